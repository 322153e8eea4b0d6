// HTTP/1.1 calls for roster-bench's closed loop (the Connect and gRPC-Web
// scenarios): one thread and one keep-alive connection per slot. The blocking
// client then still gives Drive an asynchronous Issue: a call's completion
// queues the slot's next call instead of running it on the same stack.
#ifndef ROSTER_TESTS_BENCH_HTTP_LANES_H_
#define ROSTER_TESTS_BENCH_HTTP_LANES_H_

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace roster::bench {

class HttpLanes {
 public:
  using Job = std::function<void(httplib::Client&)>;

  // `lanes` connections to host:port, opened on first use.
  HttpLanes(const std::string& host, int port, int lanes);
  ~HttpLanes();  // Finishes queued jobs, then joins.
  HttpLanes(const HttpLanes&) = delete;
  HttpLanes& operator=(const HttpLanes&) = delete;

  // Runs `job` with lane `slot % lanes`'s client on that lane's thread.
  void Post(int slot, Job job);

  // client.Post, sent once more when a kept-alive connection turns out to
  // have been closed by the server (idle, or after its requests per
  // connection), as browsers retry it.
  static httplib::Result PostRetrying(httplib::Client& client,
                                      const std::string& path,
                                      const httplib::Headers& headers,
                                      const std::string& body,
                                      const std::string& content_type);

 private:
  struct Lane {
    Lane(const std::string& host, int port) : client(host, port) {}
    httplib::Client client;
    std::mutex mu;
    std::condition_variable ready;
    std::deque<Job> jobs;
    bool stopping = false;
    std::thread thread;
  };
  static void Run(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace roster::bench

#endif  // ROSTER_TESTS_BENCH_HTTP_LANES_H_
