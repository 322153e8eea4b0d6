// BoundedHttpServer: cpp-httplib's Server with what an unauthenticated client
// can hold bounded (DESIGN §14). cpp-httplib 0.11 bounds a header line but not
// their number, and a client that sends a byte every few seconds keeps its
// worker forever. Here each request must arrive whole within a deadline and a
// byte budget, each response must be taken within a deadline, one client
// address holds a bounded number of connections, and accepted connections wait
// in a bounded queue (beyond it the kernel's backlog holds them). A few
// upload paths (profile images over Connect) get a larger budget and
// deadline, and only `uploads_in_flight` of them are read at once.
#ifndef ROSTER_SERVER_APP_BOUNDED_HTTP_SERVER_H_
#define ROSTER_SERVER_APP_BOUNDED_HTTP_SERVER_H_

#include <httplib.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace roster::app {

struct HttpLimits {
  // Connections served at once. A worker also holds an idle keep-alive
  // connection, and one browser opens up to 6 to the portal's origin.
  int workers = 64;
  int queued_connections = 256;  // Accepted and waiting for a worker.
  int connections_per_address = 16;
  size_t header_bytes = size_t{16} * 1024;  // Request line and headers.
  size_t body_bytes = size_t{64} * 1024;    // This listener serves GETs.
  absl::Duration request_deadline = absl::Seconds(10);  // First byte to last.
  absl::Duration response_deadline = absl::Seconds(30);
  absl::Duration keep_alive = absl::Seconds(5);
  int requests_per_connection = 100;
  // The upload paths' body budget (a JSON body carries the image in base64:
  // 4/3 of DESIGN §14's 10 MiB image, and the request around it), how long
  // one may take to arrive, and how many are read at once.
  size_t upload_body_bytes = size_t{15} << 20;
  absl::Duration upload_deadline = absl::Seconds(60);
  int uploads_in_flight = 2;
  // Server streams (WatchEvents over Connect or gRPC-Web) each hold a worker
  // for their life: at most this many at once, each write taken within
  // stream_write_timeout.
  int streams_in_flight = 4;
  absl::Duration stream_write_timeout = absl::Seconds(30);
};

class BoundedHttpServer : public httplib::Server {
 public:
  explicit BoundedHttpServer(const HttpLimits& limits = HttpLimits());

  // After a bind: lets the kernel queue as many connections as it allows
  // (net.core.somaxconn) for the accept loop. Debian's compiled httplib
  // listens with a backlog of 5, so a burst of a few more connections than
  // that has its SYNs dropped and waits out TCP's 1 s retransmission.
  void WidenAcceptQueue();

  // Paths (exact) whose POSTs may carry upload_body_bytes. Before serving.
  void AllowUploads(std::vector<std::string> paths);

  // From a handler: takes a stream slot for the request this thread serves,
  // false when they are all taken. The response's writes then each get
  // stream_write_timeout instead of one deadline for the whole response.
  bool BeginStream();
  // From a stream's writer: false once the server stops or the client has
  // hung up.
  bool StreamCanContinue();

 private:
  // Replaces httplib's own connection loop (it is virtual for this).
  bool process_and_close_socket(socket_t sock) override;
  // Before a body is read: 413 for a body over its path's budget, 503 when
  // the upload slots are taken; otherwise raises an upload's budget.
  HandlerResponse BeforeBody(const httplib::Request& request,
                             httplib::Response& response);
  bool AdmitAddress(const std::string& address);
  void ReleaseAddress(const std::string& address);

  const HttpLimits limits_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> connections_ ABSL_GUARDED_BY(mu_);
  int uploads_ ABSL_GUARDED_BY(mu_) = 0;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> upload_paths_;
};

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_BOUNDED_HTTP_SERVER_H_
