#include "storage/postgres/pg_read_pipeline.h"

#include <utility>

namespace roster::storage {

PgReadPipeline::PgReadPipeline(int workers, int max_batch, RunBatch run)
    : max_batch_(max_batch), run_(std::move(run)) {
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

PgReadPipeline::~PgReadPipeline() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) {
    worker.join();
  }
}

void PgReadPipeline::Run(PgStatement statement, Done done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Queued{std::move(statement), std::move(done)});
}

void PgReadPipeline::Work() {
  while (true) {
    std::vector<Queued> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &PgReadPipeline::HasWork));
      if (queue_.empty()) {
        return;  // Stopping, and every call is answered.
      }
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.batches;
      stats_.reads += static_cast<int64_t>(batch.size());
    }
    std::vector<const PgStatement*> statements;
    statements.reserve(batch.size());
    for (const Queued& q : batch) {
      statements.push_back(&q.statement);
    }
    auto results = run_(statements);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results.ok()) {
        std::move(batch[i].done)(results.status());
      } else {
        std::move(batch[i].done)(std::move((*results)[i]));
      }
    }
  }
}

PgReadBatchStats PgReadPipeline::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace roster::storage
