# A Rails login in one file, as the guides write it: the session is Rails'
# encrypted cookie store, the forms carry the authenticity token, and
# logging in and out call reset_session.
require "action_controller/railtie"
require "securerandom"
require "webrick"
require "rack/handler/webrick"

class App < Rails::Application
  config.secret_key_base = SecureRandom.hex(64)
  config.eager_load = false
  config.hosts.clear
  config.logger = Logger.new($stderr)
  config.log_level = :warn
  config.session_store :cookie_store, key: "_app_session"
end

USERS = { "alice" => "pw-secret-123", "mallory" => "pw-mallory-789" }.freeze

class SessionsController < ActionController::Base
  def index
    render html: '<!doctype html><a href="/login">Log in</a>'.html_safe
  end

  def new
    render html: login_form
  end

  def create
    name = params[:username].to_s
    if USERS.key?(name) && ActiveSupport::SecurityUtils.secure_compare(USERS[name], params[:password].to_s)
      reset_session
      session[:user] = name
      redirect_to "/profile", status: :see_other
    else
      render html: login_form("Invalid username or password")
    end
  end

  def show
    return redirect_to("/login", status: :see_other) unless session[:user]
    render html: ("<!doctype html><title>Profile</title><p>Welcome, #{ERB::Util.h(session[:user])}</p>" \
      '<form method="post" action="/logout">' \
      "<input type=\"hidden\" name=\"authenticity_token\" value=\"#{form_authenticity_token}\">" \
      "<button>Log out</button></form>").html_safe
  end

  def destroy
    reset_session
    redirect_to "/login", status: :see_other
  end

  private

  def login_form(error = nil)
    ("<!doctype html><title>Log in</title>" +
      (error ? "<p>#{ERB::Util.h(error)}</p>" : "") +
      '<form method="post" action="/login">' \
      "<input type=\"hidden\" name=\"authenticity_token\" value=\"#{form_authenticity_token}\">" \
      '<input name="username"> <input name="password" type="password"><button>Log in</button></form>').html_safe
  end
end

App.initialize!
App.routes.draw do
  root "sessions#index"
  get "/login", to: "sessions#new"
  post "/login", to: "sessions#create"
  get "/profile", to: "sessions#show"
  post "/logout", to: "sessions#destroy"
end

Rack::Handler::WEBrick.run(App, Host: "127.0.0.1", Port: Integer(ENV.fetch("PORT")),
  Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN), AccessLog: [])
