package redisstore

// EndingsBatch is how many endings one script of DeleteExpired looks at.
const EndingsBatch = endingsBatch
