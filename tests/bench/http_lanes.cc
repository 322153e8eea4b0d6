#include "tests/bench/http_lanes.h"

#include <utility>

namespace roster::bench {

HttpLanes::HttpLanes(const std::string& host, int port, int lanes) {
  for (int i = 0; i < lanes; ++i) {
    auto lane = std::make_unique<Lane>(host, port);
    lane->client.set_keep_alive(true);
    lane->client.set_tcp_nodelay(true);  // As browsers do.
    lane->client.set_read_timeout(30, 0);
    lane->thread = std::thread(&HttpLanes::Run, std::ref(*lane));
    lanes_.push_back(std::move(lane));
  }
}

HttpLanes::~HttpLanes() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->stopping = true;
    }
    lane->ready.notify_one();
    lane->thread.join();
  }
}

void HttpLanes::Post(int slot, Job job) {
  Lane& lane = *lanes_[static_cast<size_t>(slot) % lanes_.size()];
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.jobs.push_back(std::move(job));
  }
  lane.ready.notify_one();
}

httplib::Result HttpLanes::PostRetrying(httplib::Client& client,
                                        const std::string& path,
                                        const httplib::Headers& headers,
                                        const std::string& body,
                                        const std::string& content_type) {
  httplib::Result answer =
      client.Post(path.c_str(), headers, body, content_type.c_str());
  if (!answer && (answer.error() == httplib::Error::Write ||
                  answer.error() == httplib::Error::Read)) {
    answer = client.Post(path.c_str(), headers, body, content_type.c_str());
  }
  return answer;
}

void HttpLanes::Run(Lane& lane) {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.ready.wait(lock,
                      [&] { return lane.stopping || !lane.jobs.empty(); });
      if (lane.jobs.empty()) {
        return;
      }
      job = std::move(lane.jobs.front());
      lane.jobs.pop_front();
    }
    job(lane.client);
  }
}

}  // namespace roster::bench
