<?php
// A PHP login as the seeds' kind of tutorial writes it: native sessions
// with PHP's defaults (no strict mode), started on every page, and no new
// id at login.
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
            $_SESSION['user'] = $name;
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
    $_SESSION = [];
    session_destroy();
    header('Location: /login', true, 303);
    break;
default:
    http_response_code(404);
    echo 'Not found';
}
