#include "server/app/http_server.h"

#include <httplib.h>

#include <chrono>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/api/log.h"
#include "server/app/bounded_http_server.h"

namespace roster::app {
namespace {

void ServeImage(domain::UserServices& users, const httplib::Request& request,
                httplib::Response& response) {
  auto image = users.images.GetImage(request.matches[1].str());
  if (!image.ok()) {
    response.status = absl::IsNotFound(image.status()) ? 404 : 503;
    response.set_content(absl::IsNotFound(image.status())
                             ? "image not found\n"
                             : "temporarily unavailable\n",
                         "text/plain");
    return;
  }
  const std::string etag = absl::StrCat("\"", image->sha256, "\"");
  response.set_header("ETag", etag);
  response.set_header("Cache-Control", "public, max-age=31536000, immutable");
  response.set_header("X-Content-Type-Options", "nosniff");
  for (absl::string_view candidate :
       absl::StrSplit(request.get_header_value("If-None-Match"), ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (candidate == etag || candidate == "*") {
      response.status = 304;
      return;
    }
  }
  response.set_content(image->data, image->content_type.c_str());
}

// The gRPC peer string of an HTTP client, for the services' per-address
// limits and logs.
std::string GrpcPeerString(const httplib::Request& request) {
  return absl::StrContains(request.remote_addr, ':')
             ? absl::StrCat("ipv6:[", request.remote_addr,
                            "]:", request.remote_port)
             : absl::StrCat("ipv4:", request.remote_addr, ":",
                            request.remote_port);
}

// A POST as server/web reads it: names lowered, the caller's address kept.
web::HttpCall HttpCallOf(const httplib::Request& request) {
  web::HttpCall call;
  call.path = request.path;
  call.content_type = request.get_header_value("Content-Type");
  call.body = request.body;
  call.peer = GrpcPeerString(request);
  for (const auto& [name, value] : request.headers) {
    call.headers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  return call;
}

// A server stream's answer: written as the messages come, on this worker.
void ServeStream(const web::RpcGateway& gateway, BoundedHttpServer& server,
                 web::HttpCall call, httplib::Response& response) {
  if (!server.BeginStream()) {
    response.status = 503;
    response.set_header("Retry-After", "1");
    return;
  }
  const std::string type = web::RpcGateway::StreamContentType(call);
  response.set_chunked_content_provider(
      type, [&gateway, &server, call = std::move(call)](
                size_t /*offset*/, httplib::DataSink& sink) {
        gateway.Stream(
            call,
            [&sink](const std::string& bytes) {
              return sink.write(bytes.data(), bytes.size());
            },
            [&server] { return server.StreamCanContinue(); });
        sink.done();
        return true;
      });
}

void SetHeaders(const web::Headers& headers, httplib::Response& response) {
  for (const auto& [name, value] : headers) {
    response.set_header(name, value);
  }
}

void Reply(const web::HttpAnswer& answer, httplib::Response& response) {
  response.status = answer.status;
  SetHeaders(answer.headers, response);
  response.set_content(answer.body, answer.content_type.c_str());
}

}  // namespace

HttpServer::HttpServer() : server_(std::make_unique<BoundedHttpServer>()) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Bind(
    const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(listen).substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_listen must be host:port, not ", listen));
  }
  auto server = absl::WrapUnique(new HttpServer());
  // [::1]:8081 -> ::1
  server->host_ = std::string(absl::StripSuffix(
      absl::StripPrefix(absl::string_view(listen).substr(0, colon), "["), "]"));
  bool bound = false;
  if (port == 0) {
    port = server->server_->bind_to_any_port(server->host_);
    bound = port > 0;
  } else {
    bound = server->server_->bind_to_port(server->host_, port);
  }
  if (!bound) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", listen));
  }
  server->server_->WidenAcceptQueue();
  server->port_ = port;
  return server;
}

void HttpServer::ServeOAuthCallback(oauth::OAuthFlow* flow) {
  server_->Get(
      "/v1/oauth/callback", [this, flow](const httplib::Request& request,
                                         httplib::Response& response) {
        // A provider that hangs holds each return for the transport's timeout.
        // Past the bound the state is left unspent: the browser may try again.
        const absl::Cleanup done = [this] { oauth_callbacks_.fetch_sub(1); };
        if (oauth_callbacks_.fetch_add(1) >= kMaxOAuthCallbacks) {
          response.status = 503;
          response.set_header("Retry-After", "1");
          response.set_content(
              "too many sign-ins are waiting on their providers; try again\n",
              "text/plain");
          return;
        }
        const domain::Caller caller{"oauth_callback", ""};
        const oauth::CallbackAnswer answer = flow->Callback(
            caller, request.get_param_value("code"),
            request.get_param_value("state"), request.get_param_value("error"));
        // The answer carries a ticket: never cached, never sent on as a
        // referrer.
        response.set_header("Cache-Control", "no-store");
        response.set_header("Referrer-Policy", "no-referrer");
        if (!answer.message.empty()) {
          api::LogJson("warn", "social sign-in did not complete",
                       absl::StrCat(",\"why\":\"",
                                    api::JsonEscape(answer.message), "\""));
        }
        if (answer.status == 303) {
          response.status = 303;
          response.set_header("Location", answer.location);
          return;
        }
        response.status = answer.status;
        response.set_content(absl::StrCat(answer.message, "\n"), "text/plain");
      });
}

void HttpServer::ServeRpcs(const web::RpcGateway* gateway,
                           const web::Cors& cors) {
  server_->AllowUploads({"/roster.v1.FrontendUsers/SetMyProfileImage",
                         "/roster.v1.BackendUsers/SetProfileImage"});
  constexpr char kRpcPath[] =
      R"(/[a-z0-9]+(?:\.[a-z0-9]+)*\.[A-Za-z]+/[A-Za-z]+)";
  server_->Options(kRpcPath, [cors](const httplib::Request& request,
                                    httplib::Response& response) {
    SetHeaders(cors.ForPreflight(
                   request.get_header_value("Origin"),
                   request.get_header_value("Access-Control-Request-Method"),
                   request.get_header_value("Access-Control-Request-Headers")),
               response);
    response.status = 204;
  });
  server_->Post(kRpcPath, [gateway, cors, server = server_.get()](
                              const httplib::Request& request,
                              httplib::Response& response) {
    SetHeaders(cors.ForResponse(request.get_header_value("Origin")), response);
    web::HttpCall call = HttpCallOf(request);
    if (gateway->IsStreaming(call)) {
      ServeStream(*gateway, *server, std::move(call), response);
      return;
    }
    Reply(gateway->Call(call), response);
  });
}

void HttpServer::ServePortal(const web::Portal* portal) {
  server_->Get(
      R"(/(?:sign-in|sign-up|account|portal/[a-z.-]+))",
      [portal](const httplib::Request& request, httplib::Response& response) {
        std::optional<web::HttpAnswer> answer = portal->Get(request.path);
        if (!answer.has_value()) {
          response.status = 404;
          response.set_content("not found\n", "text/plain");
          return;
        }
        Reply(*answer, response);
      });
  server_->Post(
      R"(/portal/(?:session|token|sign-out|ticket))",
      [portal](const httplib::Request& request, httplib::Response& response) {
        Reply(portal->Post(HttpCallOf(request)), response);
      });
}

absl::Status HttpServer::Serve(domain::UserServices* users,
                               std::function<std::string()> metrics) {
  if (metrics) {
    server_->Get("/metrics",
                 [metrics = std::move(metrics)](const httplib::Request&,
                                                httplib::Response& response) {
                   response.set_content(metrics(), "text/plain; version=0.0.4");
                 });
  }
  if (users != nullptr) {
    server_->Get(
        R"(/v1/images/(img_[0-9A-Za-z]{1,64}))",
        [users](const httplib::Request& request, httplib::Response& response) {
          ServeImage(*users, request, response);
        });
  }
  thread_ = std::thread([raw = server_.get()] { raw->listen_after_bind(); });
  // stop() only takes effect once the accept loop runs; wait for it so an
  // early Stop() cannot hang.
  for (int waited_ms = 0; !server_->is_running(); ++waited_ms) {
    if (waited_ms == 5000) {  // The loop never started, so it has returned.
      thread_.join();
      return absl::UnavailableError("the HTTP listener did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) {
    return;
  }
  server_->stop();
  thread_.join();
}

}  // namespace roster::app
