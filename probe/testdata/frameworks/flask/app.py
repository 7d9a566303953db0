"""A Flask login as the tutorials write it: the session is Flask's signed
cookie, and logging out clears it in the browser only."""

import os

from flask import Flask, redirect, render_template_string, request, session

app = Flask(__name__)
app.secret_key = os.urandom(32)

USERS = {"alice": "pw-secret-123", "mallory": "pw-mallory-789"}

LOGIN = """<!doctype html><title>Log in</title>
{% if error %}<p>{{ error }}</p>{% endif %}
<form method="post" action="/login">
<input name="username"> <input name="password" type="password">
<button>Log in</button></form>"""

PROFILE = """<!doctype html><title>Profile</title>
<p>Welcome, {{ user }}</p>
<form method="post" action="/logout"><button>Log out</button></form>"""


@app.get("/")
def index():
    return '<!doctype html><a href="/login">Log in</a>'


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        name = request.form.get("username", "")
        if USERS.get(name) == request.form.get("password"):
            session["user"] = name
            return redirect("/profile")
        return render_template_string(LOGIN, error="Invalid username or password")
    return render_template_string(LOGIN, error=None)


@app.get("/profile")
def profile():
    if "user" not in session:
        return redirect("/login")
    return render_template_string(PROFILE, user=session["user"])


@app.post("/logout")
def logout():
    session.clear()
    return redirect("/login")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
