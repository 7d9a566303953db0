package storetest

// renewCases check Renew, Seen, FindHandle, Bind and NoteUnbound.
var renewCases = []testCase{}
