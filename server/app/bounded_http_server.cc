#include "server/app/bounded_http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"

namespace roster::app {
namespace {

// Workers that run accepted connections; enqueue blocks while `capacity`
// connections already wait, so the accept loop stops accepting and the kernel's
// bounded backlog holds the rest.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(int workers, int capacity) : capacity_(capacity) {
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }

  void enqueue(std::function<void()> job) override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BoundedTaskQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
          return q->jobs_.size() < static_cast<size_t>(q->capacity_);
        },
        this));
    jobs_.push_back(std::move(job));
  }

  // Runs what is queued (each job closes its socket), then joins.
  void shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& thread : threads_) {
      thread.join();
    }
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](BoundedTaskQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
              return !q->jobs_.empty() || q->stopping_;
            },
            this));
        if (jobs_.empty()) {
          return;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  const int capacity_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

std::string NumericHost(const sockaddr_storage& address, socklen_t length,
                        int* port) {
  char host[NI_MAXHOST] = "";
  char service[NI_MAXSERV] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host,
                  sizeof(host), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "";
  }
  if (port != nullptr) {
    *port = std::atoi(service);
  }
  return host;
}

std::string PeerAddress(int sock, int* port = nullptr) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getpeername(sock, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "";
  }
  return NumericHost(address, length, port);
}

// A socket whose reads end at a deadline and a byte budget, and whose writes
// end at another deadline: what httplib's own stream bounds only per call.
class DeadlineStream : public httplib::Stream {
 public:
  explicit DeadlineStream(int sock) : sock_(sock) {}

  void StartRequest(absl::Time read_deadline, size_t read_budget,
                    absl::Time write_deadline) {
    read_deadline_ = read_deadline;
    read_budget_ = read_budget;
    write_deadline_ = write_deadline;
  }

  // A stream's writes: each gets `timeout` from when it starts.
  void WriteEachWithin(absl::Duration timeout) { per_write_ = timeout; }

  // Whether the client hung up (or the socket failed), without blocking.
  bool PeerGone() const {
    pollfd fd{sock_, POLLIN | POLLRDHUP, 0};
    return poll(&fd, 1, 0) > 0 &&
           (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  // An upload's larger budget, from now on: `more` bytes, `extra` time.
  void Extend(size_t more, absl::Duration extra) {
    read_budget_ += more;
    read_deadline_ += extra;
    write_deadline_ += extra;
  }

  // True once a request's first byte is here; false after `idle` without one
  // or once `running` turns false (the server is stopping).
  bool AwaitRequest(absl::Duration idle, const std::function<bool()>& running) {
    const absl::Time give_up = absl::Now() + idle;
    while (begin_ == end_ && running()) {
      const absl::Duration left = give_up - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return false;
      }
      pollfd fd{sock_, POLLIN, 0};
      const int ready = poll(&fd, 1,
                             static_cast<int>(absl::ToInt64Milliseconds(
                                 std::min(left, absl::Milliseconds(200)))) +
                                 1);
      if (ready < 0 && errno != EINTR) {
        return false;
      }
      if (ready > 0) {
        return true;
      }
    }
    return begin_ != end_;
  }

  bool is_readable() const override {
    return begin_ != end_ || Wait(POLLIN, read_deadline_);
  }
  bool is_writable() const override { return Wait(POLLOUT, WriteDeadline()); }

  ssize_t read(char* out, size_t size) override {
    if (begin_ == end_) {
      if (read_budget_ == 0 || !Wait(POLLIN, read_deadline_)) {
        return -1;
      }
      const ssize_t got =
          recv(sock_, buffer_, std::min(sizeof(buffer_), read_budget_), 0);
      if (got <= 0) {
        return -1;
      }
      read_budget_ -= static_cast<size_t>(got);
      begin_ = 0;
      end_ = static_cast<size_t>(got);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(out, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* data, size_t size) override {
    if (!Wait(POLLOUT, WriteDeadline())) {
      return -1;
    }
    return send(sock_, data, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = PeerAddress(sock_, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&address), &length) ==
        0) {
      ip = NumericHost(address, length, &port);
    }
  }
  socket_t socket() const override { return sock_; }

 private:
  absl::Time WriteDeadline() const {
    return per_write_ > absl::ZeroDuration() ? absl::Now() + per_write_
                                             : write_deadline_;
  }

  bool Wait(decltype(pollfd::events) events, absl::Time deadline) const {
    for (;;) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return false;
      }
      pollfd fd{sock_, events, 0};
      const int ready =
          poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (ready > 0) {
        return (fd.revents & (events | POLLHUP)) != 0;
      }
      if (ready < 0 && errno != EINTR) {
        return false;
      }
    }
  }

  const int sock_;
  absl::Time read_deadline_ = absl::InfinitePast();
  absl::Time write_deadline_ = absl::InfinitePast();
  size_t read_budget_ = 0;
  absl::Duration per_write_ = absl::ZeroDuration();
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

// What the request being served on this thread needs after it: set by
// BeforeBody, read by the connection loop that owns the thread.
struct RequestState {
  DeadlineStream* stream = nullptr;
  bool holds_upload = false;  // Give the slot back.
  bool holds_stream = false;
  bool close = false;  // Its body was never read: end the connection.
};
thread_local RequestState current_request;

constexpr char kBusy[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\n";

}  // namespace

BoundedHttpServer::BoundedHttpServer(const HttpLimits& limits)
    : limits_(limits) {
  // httplib's own bound must admit an upload; every other request is held to
  // body_bytes by BeforeBody and by its stream's budget.
  set_payload_max_length(
      std::max(limits_.body_bytes, limits_.upload_body_bytes));
  // httplib's default is SO_REUSEPORT, which lets another process share a
  // port this one serves and take some of its connections: with SO_REUSEADDR
  // alone a port in use fails the bind, while a restart still rebinds a port
  // whose old connections wait in TIME_WAIT.
  set_socket_options([](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return BeforeBody(request, response);
      });
  // httplib writes a response's head and body separately: with Nagle's
  // algorithm the body then waits for the client's delayed ACK, 40 ms a call.
  set_tcp_nodelay(true);
  // httplib takes ownership of the queue it is handed.
  new_task_queue = [workers = limits_.workers,
                    capacity = limits_.queued_connections] {
    return new BoundedTaskQueue(
        workers, capacity);  // NOLINT(cppcoreguidelines-owning-memory)
  };
}

void BoundedHttpServer::WidenAcceptQueue() {
  // listen() again on a listening socket only changes its backlog.
  ::listen(svr_sock_, SOMAXCONN);
}

void BoundedHttpServer::AllowUploads(std::vector<std::string> paths) {
  upload_paths_ = std::move(paths);
}

httplib::Server::HandlerResponse BoundedHttpServer::BeforeBody(
    const httplib::Request& request, httplib::Response& response) {
  const bool upload = request.method == "POST" &&
                      std::find(upload_paths_.begin(), upload_paths_.end(),
                                request.path) != upload_paths_.end();
  const size_t budget = upload ? limits_.upload_body_bytes : limits_.body_bytes;
  uint64_t announced = 0;  // Chunked or absent: the stream's budget holds.
  if (absl::SimpleAtoi(request.get_header_value("Content-Length"),
                       &announced) &&
      announced > budget) {
    response.status = 413;
    current_request.close = true;
    return HandlerResponse::Handled;
  }
  if (!upload) {
    return HandlerResponse::Unhandled;
  }
  {
    absl::MutexLock lock(&mu_);
    if (uploads_ >= limits_.uploads_in_flight) {
      response.status = 503;
      response.set_header("Retry-After", "1");
      current_request.close = true;
      return HandlerResponse::Handled;
    }
    ++uploads_;
  }
  current_request.holds_upload = true;
  current_request.stream->Extend(
      limits_.upload_body_bytes - limits_.body_bytes,
      limits_.upload_deadline - limits_.request_deadline);
  return HandlerResponse::Unhandled;
}

bool BoundedHttpServer::BeginStream() {
  if (current_request.stream == nullptr) {
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    if (streams_ >= limits_.streams_in_flight) {
      return false;
    }
    ++streams_;
  }
  current_request.holds_stream = true;
  current_request.stream->WriteEachWithin(limits_.stream_write_timeout);
  return true;
}

bool BoundedHttpServer::StreamCanContinue() {
  return svr_sock_ != INVALID_SOCKET && current_request.stream != nullptr &&
         !current_request.stream->PeerGone();
}

bool BoundedHttpServer::AdmitAddress(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(address);
  if (it == connections_.end()) {
    if (limits_.connections_per_address < 1) {
      return false;
    }
    connections_.emplace(address, 1);
    return true;
  }
  if (it->second >= limits_.connections_per_address) {
    return false;
  }
  ++it->second;
  return true;
}

void BoundedHttpServer::ReleaseAddress(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(address);
  if (it != connections_.end() && --it->second == 0) {
    connections_.erase(it);  // The map holds only addresses connected now.
  }
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  const std::string address = PeerAddress(sock);
  bool ok = false;
  if (AdmitAddress(address)) {
    DeadlineStream stream(sock);
    const auto running = [this] { return svr_sock_ != INVALID_SOCKET; };
    for (int served = 0; served < limits_.requests_per_connection; ++served) {
      if (!stream.AwaitRequest(limits_.keep_alive, running)) {
        break;
      }
      const absl::Time start = absl::Now();
      stream.StartRequest(
          start + limits_.request_deadline,
          limits_.header_bytes + limits_.body_bytes,
          start + limits_.request_deadline + limits_.response_deadline);
      bool closed = false;
      current_request = RequestState{&stream};
      ok = process_request(
          stream, served + 1 == limits_.requests_per_connection || !running(),
          closed, nullptr);
      if (current_request.holds_upload || current_request.holds_stream) {
        absl::MutexLock lock(&mu_);
        uploads_ -= current_request.holds_upload ? 1 : 0;
        streams_ -= current_request.holds_stream ? 1 : 0;
      }
      // A stream ends its connection: its budget and deadlines are spent.
      const bool unread_body =
          current_request.close || current_request.holds_stream;
      current_request = RequestState{};
      if (!ok || closed || unread_body) {
        break;
      }
    }
    ReleaseAddress(address);
  } else {
    (void)send(sock, kBusy, sizeof(kBusy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  shutdown(sock, SHUT_RDWR);
  close(sock);
  return ok;
}

}  // namespace roster::app
