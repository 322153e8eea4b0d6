// RosterServer's Prometheus text (/metrics): the RPC counters and latencies
// of api::Metrics, plus what only the server knows at scrape time: the build,
// the user count, the user cache, the C heap, the token cache, the rate
// limits, the HTTP/2 guard and the code deliverer.
#include <malloc.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "server/app/http2_guard.h"
#include "server/app/roster_server.h"
#include "storage/user_store.h"

namespace roster::app {

std::string RosterServer::RenderMetrics() {
  std::string extra =
      "# HELP roster_build_info The running build.\n"
      "# TYPE roster_build_info gauge\n"
      "roster_build_info{version=\"" ROSTER_VERSION "\"} 1\n";
  // Counted at scrape time: one indexed COUNT(*) on a reader connection.
  auto users = store_->CountUsers(storage::UserFilter{});
  if (users.ok()) {
    absl::StrAppend(&extra,
                    "# HELP roster_users Users stored.\n"
                    "# TYPE roster_users gauge\n"
                    "roster_users ",
                    *users, "\n");
  }
  if (auto cache = store_->GetUserCacheStats()) {
    absl::StrAppend(
        &extra,
        "# HELP roster_user_cache_lookups_total GetUser reads by whether the "
        "user cache held the user.\n"
        "# TYPE roster_user_cache_lookups_total counter\n"
        "roster_user_cache_lookups_total{result=\"hit\"} ",
        cache->hits, "\nroster_user_cache_lookups_total{result=\"miss\"} ",
        cache->misses,
        "\n# HELP roster_user_cache_identifier_hits_total ListUsers lookups "
        "by one identifier answered from the user cache without reading the "
        "database.\n"
        "# TYPE roster_user_cache_identifier_hits_total counter\n"
        "roster_user_cache_identifier_hits_total ",
        cache->lookup_hits,
        "\n# HELP roster_user_cache_bytes Approximate bytes the user cache "
        "holds.\n"
        "# TYPE roster_user_cache_bytes gauge\n"
        "roster_user_cache_bytes ",
        cache->bytes, "\n");
  }
  // glibc's own count (it walks every arena under its lock, so only at
  // scrape time): what a leak grows is the heap in use. The free part is
  // what arenas keep for reuse, whether or not its pages are resident.
  const struct mallinfo2 heap = mallinfo2();
  absl::StrAppend(&extra,
                  "# HELP roster_heap_bytes The C heap (glibc malloc): bytes "
                  "in use and bytes held free for reuse.\n"
                  "# TYPE roster_heap_bytes gauge\n"
                  "roster_heap_bytes{state=\"in_use\"} ",
                  heap.uordblks + heap.hblkhd,
                  "\nroster_heap_bytes{state=\"free\"} ", heap.fordblks, "\n");
  // Each table beside its cap, so a dashboard divides one by the other.
  absl::StrAppend(&extra,
                  "# HELP roster_token_cache_entries Session tokens whose "
                  "signature check is remembered.\n"
                  "# TYPE roster_token_cache_entries gauge\n"
                  "roster_token_cache_entries ",
                  sessions_->cached_tokens(),
                  "\n# HELP roster_token_cache_capacity The most "
                  "roster_token_cache_entries can be.\n"
                  "# TYPE roster_token_cache_capacity gauge\n"
                  "roster_token_cache_capacity ",
                  sessions_->max_cached_tokens(), "\n");
  const auto rate_limits = frontend_users_->RateLimitKeys();
  absl::StrAppend(&extra,
                  "# HELP roster_rate_limit_keys Keys each in-memory rate "
                  "limit holds now (DESIGN section 14).\n"
                  "# TYPE roster_rate_limit_keys gauge\n");
  for (const auto& fill : rate_limits) {
    absl::StrAppend(&extra, "roster_rate_limit_keys{limit=\"", fill.limit,
                    "\"} ", fill.keys, "\n");
  }
  absl::StrAppend(&extra,
                  "# HELP roster_rate_limit_key_capacity The most keys each "
                  "rate limit holds; when full, its oldest windows go.\n"
                  "# TYPE roster_rate_limit_key_capacity gauge\n");
  for (const auto& fill : rate_limits) {
    absl::StrAppend(&extra, "roster_rate_limit_key_capacity{limit=\"",
                    fill.limit, "\"} ", fill.max_keys, "\n");
  }
  const Http2GuardCounts guard = GuardCounts();
  absl::StrAppend(
      &extra,
      "# HELP roster_http2_guard_closed_total gRPC connections closed by the "
      "HTTP/2 guard, by rule (docs/operations.md, --http2_guard).\n"
      "# TYPE roster_http2_guard_closed_total counter\n"
      "roster_http2_guard_closed_total{rule=\"header_block_too_large\"} ",
      guard.header_block_too_large,
      "\nroster_http2_guard_closed_total{rule=\"too_many_resets\"} ",
      guard.too_many_resets,
      "\nroster_http2_guard_closed_total{rule=\"connection_rate\"} ",
      guard.connection_rate,
      "\nroster_http2_guard_closed_total{rule=\"out_of_file_descriptors\"} ",
      guard.shed_for_file_descriptors, "\n");
  if (deliverer_ != nullptr) {
    absl::StrAppend(&extra, deliverer_->RenderMetrics());
  }
  return metrics_->Render(extra);
}

}  // namespace roster::app
