# Sinatra (Mustermann routes, Rack::Protection, WEBrick) with `method_override`, which is
# Rack::MethodOverride: `_method` in a POST form or multipart body, or the
# X-HTTP-Method-Override header.
require "sinatra/base"
require "json"

class Origin < Sinatra::Base
  set :method_override, true
  set :server, "webrick"
  set :bind, "127.0.0.1"
  set :port, Integer(ARGV[0])
  set :show_exceptions, false
  set :raise_errors, false
  set :logging, false

  helpers do
    def answer(route, status = 200)
      dispatched = { method: request.request_method, route: route, framework: "sinatra" }
      headers "X-Dispatched" => JSON.generate(dispatched), "X-Target" => env["REQUEST_URI"].to_s
      content_type :json
      halt status, JSON.generate(dispatched)
    end
  end

  get("/v1/contacts") { answer "/v1/contacts" }
  post("/v1/contacts") { answer "/v1/contacts" }
  delete("/v1/contacts") { answer "/v1/contacts" }
  get("/v1/contacts/:id") { answer "/v1/contacts/{id}" }
  put("/v1/contacts/:id") { answer "/v1/contacts/{id}" }
  patch("/v1/contacts/:id") { answer "/v1/contacts/{id}" }
  delete("/v1/contacts/:id") { answer "/v1/contacts/{id}" }
  get("/v1/reports") { answer "/v1/reports/*" }
  get("/v1/reports/*") { answer "/v1/reports/*" }
  not_found { answer nil, 404 }
  error { answer nil, 500 }

  run!
end
