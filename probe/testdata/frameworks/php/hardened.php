<?php
// The same login done as PHP's session security guide says: strict mode
// (unknown ids are refused), cookies only, HttpOnly and SameSite, a new id
// at login, and the session destroyed at logout. It is served over plain
// HTTP in the tests, so its cookie cannot be Secure.
ini_set('session.use_strict_mode', '1');
ini_set('session.use_only_cookies', '1');
ini_set('session.use_trans_sid', '0');
session_set_cookie_params(['httponly' => true, 'samesite' => 'Lax', 'path' => '/']);
session_start();
$users = ['alice' => 'pw-secret-123', 'mallory' => 'pw-mallory-789'];
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

function login_form($error = '') {
    echo '<!doctype html><title>Log in</title>';
    if ($error !== '') {
        echo '<p>' . htmlspecialchars($error) . '</p>';
    }
    echo '<form method="post" action="/login"><input name="username"> <input name="password" type="password"><button>Log in</button></form>';
}

switch ($path) {
case '/':
    echo '<!doctype html><a href="/login">Log in</a>';
    break;
case '/login':
    if ($_SERVER['REQUEST_METHOD'] === 'POST') {
        $name = $_POST['username'] ?? '';
        if (isset($users[$name]) && hash_equals($users[$name], $_POST['password'] ?? '')) {
            session_regenerate_id(true);
            $_SESSION = ['user' => $name];
            header('Location: /profile', true, 303);
            break;
        }
        login_form('Invalid username or password');
        break;
    }
    login_form();
    break;
case '/profile':
    if (!isset($_SESSION['user'])) {
        header('Location: /login', true, 303);
        break;
    }
    echo '<!doctype html><title>Profile</title><p>Welcome, ' . htmlspecialchars($_SESSION['user']) . '</p>';
    echo '<form method="post" action="/logout"><button>Log out</button></form>';
    break;
case '/logout':
    if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
        http_response_code(405);
        break;
    }
    $_SESSION = [];
    session_destroy();
    setcookie(session_name(), '', ['expires' => 1, 'path' => '/', 'httponly' => true, 'samesite' => 'Lax']);
    header('Location: /login', true, 303);
    break;
default:
    http_response_code(404);
    echo 'Not found';
}
