#include "server/domain/errors.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace roster::domain {
namespace {

constexpr char kReasonPayload[] = "roster/reason";
constexpr char kViolationsPayload[] = "roster/field_violations";
constexpr char kRetryPayload[] = "roster/retry_after_ms";
constexpr char kMetadataPayloadPrefix[] = "roster/metadata/";
// Fields and descriptions are our own text and never contain these separators.
constexpr char kPairSeparator = '\x1e';
constexpr char kFieldSeparator = '\x1f';

}  // namespace

absl::Status Error(absl::StatusCode code, absl::string_view reason,
                   absl::string_view message,
                   const std::vector<FieldViolation>& violations) {
  absl::Status status(code, message);
  status.SetPayload(kReasonPayload, absl::Cord(reason));
  if (!violations.empty()) {
    std::string encoded =
        absl::StrJoin(violations, std::string(1, kPairSeparator),
                      [](std::string* out, const FieldViolation& v) {
                        out->append(v.field);
                        out->push_back(kFieldSeparator);
                        out->append(v.description);
                      });
    status.SetPayload(kViolationsPayload, absl::Cord(encoded));
  }
  return status;
}

absl::Status TooManyAttempts(absl::string_view message,
                             absl::Duration retry_after) {
  absl::Status status = Error(absl::StatusCode::kResourceExhausted,
                              reason::kTooManyAttempts, message);
  status.SetPayload(kRetryPayload,
                    absl::Cord(absl::StrCat(std::max<int64_t>(
                        1, absl::ToInt64Milliseconds(retry_after)))));
  return status;
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms)) {
    return std::nullopt;
  }
  return absl::Milliseconds(ms);
}

absl::Status WithErrorMetadata(absl::Status status, absl::string_view key,
                               absl::string_view value) {
  status.SetPayload(absl::StrCat(kMetadataPayloadPrefix, key),
                    absl::Cord(value));
  return status;
}

std::vector<std::pair<std::string, std::string>> ErrorMetadataOf(
    const absl::Status& status) {
  std::vector<std::pair<std::string, std::string>> metadata;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::ConsumePrefix(&url, kMetadataPayloadPrefix)) {
      metadata.emplace_back(std::string(url), std::string(value));
    }
  });
  std::sort(metadata.begin(), metadata.end());
  return metadata;
}

std::string ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> violations;
  auto payload = status.GetPayload(kViolationsPayload);
  if (!payload.has_value()) {
    return violations;
  }
  for (absl::string_view pair :
       absl::StrSplit(std::string(*payload), kPairSeparator)) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(pair, absl::MaxSplits(kFieldSeparator, 1));
    violations.push_back({std::move(parts.first), std::move(parts.second)});
  }
  return violations;
}

void Violations::Add(std::string field, std::string description,
                     absl::string_view reason) {
  if (violations_.empty()) {
    first_reason_ = std::string(reason);
  }
  violations_.push_back({std::move(field), std::move(description)});
}

absl::Status Violations::ToStatus(absl::StatusCode code) const {
  if (violations_.empty()) {
    return absl::OkStatus();
  }
  std::string message =
      violations_.size() == 1
          ? absl::StrCat(violations_[0].field, ": ", violations_[0].description)
          : absl::StrCat(violations_.size(), " invalid fields; first ",
                         violations_[0].field, ": ",
                         violations_[0].description);
  return Error(code, first_reason_, message, violations_);
}

}  // namespace roster::domain
