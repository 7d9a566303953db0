// An Express login as the tutorials write it.
//
//   node app.js session   express-session (memory store), no regenerate() at login
//   node app.js cookie    cookie-session: the session in a cookie, signed in a second one
'use strict';

const express = require('express');
const crypto = require('crypto');

const mode = process.argv[2] || 'session';
const app = express();
app.use(express.urlencoded({ extended: false }));

const secret = crypto.randomBytes(32).toString('hex');
if (mode === 'cookie') {
  app.use(require('cookie-session')({ name: 'session', keys: [secret] }));
} else {
  app.use(require('express-session')({ secret, resave: false, saveUninitialized: true }));
}

const users = { alice: 'pw-secret-123', mallory: 'pw-mallory-789' };
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginForm = (error) => '<!doctype html><title>Log in</title>' +
  (error ? `<p>${escape(error)}</p>` : '') +
  '<form method="post" action="/login"><input name="username"> <input name="password" type="password"><button>Log in</button></form>';

app.get('/', (req, res) => res.send('<!doctype html><a href="/login">Log in</a>'));
app.get('/login', (req, res) => res.send(loginForm()));
app.post('/login', (req, res) => {
  const name = req.body.username || '';
  if (Object.hasOwn(users, name) && users[name] === req.body.password) {
    req.session.user = name;
    return res.redirect(303, '/profile');
  }
  res.send(loginForm('Invalid username or password'));
});
app.get('/profile', (req, res) => {
  if (!req.session || !req.session.user) return res.redirect(303, '/login');
  res.send(`<!doctype html><title>Profile</title><p>Welcome, ${escape(req.session.user)}</p>` +
    '<form method="post" action="/logout"><button>Log out</button></form>');
});
app.post('/logout', (req, res) => {
  if (mode === 'cookie') {
    req.session = null;
    return res.redirect(303, '/login');
  }
  req.session.destroy(() => res.redirect(303, '/login'));
});

app.listen(Number(process.env.PORT), '127.0.0.1');
