#include "server/domain/validation.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace roster::domain {
namespace {

bool IsAtext(char c) {
  static constexpr absl::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains(kSpecials, c);
}

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

bool IsValidDomainLabel(absl::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' ||
      label.back() == '-') {
    return false;
  }
  for (char c : label) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> NormalizeEmailAddress(absl::string_view input) {
  std::string email = absl::AsciiStrToLower(absl::StripAsciiWhitespace(input));
  if (email.empty()) {
    return Invalid("must not be empty");
  }
  if (email.size() > kMaxEmailAddressBytes) {
    return Invalid(
        absl::StrCat("must be at most ", kMaxEmailAddressBytes, " bytes"));
  }
  const size_t at = email.rfind('@');
  if (at == std::string::npos) {
    return Invalid("must be an email address like name@example.com");
  }
  const absl::string_view local = absl::string_view(email).substr(0, at);
  const absl::string_view domain = absl::string_view(email).substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' ||
      local.back() == '.' || absl::StrContains(local, "..")) {
    return Invalid(
        "the part before @ must be 1-64 characters without leading, trailing "
        "or "
        "double dots");
  }
  for (char c : local) {
    if (!IsAtext(c) && c != '.') {
      return Invalid(
          "the part before @ may only hold letters, digits, dots and "
          "!#$%&'*+-/=?^_`{|}~");
    }
  }
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() < 2) {
    return Invalid(
        "the domain must have at least two labels, like example.com");
  }
  for (absl::string_view label : labels) {
    if (!IsValidDomainLabel(label)) {
      return Invalid(
          "the domain must be labels of letters, digits and inner hyphens (use "
          "punycode for international domains)");
    }
  }
  return email;
}

absl::StatusOr<std::string> NormalizePhoneNumber(absl::string_view input) {
  std::string phone;
  for (char c : absl::StripAsciiWhitespace(input)) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
      continue;
    }
    phone.push_back(c);
  }
  const bool shaped = phone.size() >= 9 && phone.size() <= 16 &&
                      phone[0] == '+' && phone[1] != '0';
  bool digits = shaped;
  for (size_t i = 1; digits && i < phone.size(); ++i) {
    digits = absl::ascii_isdigit(static_cast<unsigned char>(phone[i]));
  }
  if (!digits) {
    return Invalid("must be E.164: + then 8-15 digits, the first not 0");
  }
  return phone;
}

absl::StatusOr<std::string> NormalizeUsername(absl::string_view input) {
  std::string username = absl::AsciiStrToLower(input);
  if (username.size() < 4 || username.size() > 64) {
    return Invalid("must be 4-64 characters");
  }
  bool all_digits = true;
  for (char c : username) {
    const auto u = static_cast<unsigned char>(c);
    if (!(absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '_' ||
          c == '-')) {
      return Invalid("may only hold letters, digits, _ and -");
    }
    all_digits = all_digits && absl::ascii_isdigit(u);
  }
  if (all_digits) {
    return Invalid("must not be all digits");
  }
  return username;
}

namespace {

bool AllOf(absl::string_view s, size_t min, size_t max,
           bool (*is)(unsigned char)) {
  if (s.size() < min || s.size() > max) {
    return false;
  }
  for (char c : s) {
    if (!is(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}
bool Alpha(absl::string_view s, size_t min, size_t max) {
  return AllOf(s, min, max, absl::ascii_isalpha);
}
bool Alnum(absl::string_view s, size_t min, size_t max) {
  return AllOf(s, min, max, absl::ascii_isalnum);
}

}  // namespace

absl::StatusOr<std::string> NormalizeLocale(absl::string_view input) {
  constexpr size_t kMaxLocaleBytes = 64;
  const auto bad = [] {
    return Invalid(
        "must be a BCP 47 language tag such as en, pt-BR or zh-Hant");
  };
  if (input.empty() || input.size() > kMaxLocaleBytes) {
    return bad();
  }
  std::vector<std::string> tags =
      absl::StrSplit(absl::AsciiStrToLower(input), '-');
  size_t i = 0;
  const auto at = [&](size_t k) -> absl::string_view {
    return k < tags.size() ? absl::string_view(tags[k]) : absl::string_view();
  };
  // language: 2-3 letters with up to three 3-letter extlangs, or 4-8 letters.
  if (!Alpha(at(0), 2, 8)) {
    return bad();
  }
  const bool short_language = at(0).size() <= 3;
  ++i;
  for (int extlangs = 0; short_language && extlangs < 3 && Alpha(at(i), 3, 3);
       ++extlangs) {
    ++i;
  }
  if (Alpha(at(i), 4, 4)) {  // script, Title case.
    tags[i][0] = absl::ascii_toupper(static_cast<unsigned char>(tags[i][0]));
    ++i;
  }
  if (Alpha(at(i), 2, 2) || AllOf(at(i), 3, 3, absl::ascii_isdigit)) {
    tags[i] = absl::AsciiStrToUpper(tags[i]);  // region
    ++i;
  }
  while (Alnum(at(i), 5, 8) ||
         (Alnum(at(i), 4, 4) &&
          absl::ascii_isdigit(static_cast<unsigned char>(at(i)[0])))) {
    ++i;  // variants
  }
  std::string singletons;
  while (Alnum(at(i), 1, 1) && at(i) != "x") {
    if (absl::StrContains(singletons, at(i))) {
      return bad();  // Each extension at most once.
    }
    singletons.append(tags[i]);
    const size_t first = ++i;
    while (Alnum(at(i), 2, 8)) {
      ++i;
    }
    if (i == first) {
      return bad();
    }
  }
  if (at(i) == "x") {  // private use: to the end.
    const size_t first = ++i;
    while (Alnum(at(i), 1, 8)) {
      ++i;
    }
    if (i == first) {
      return bad();
    }
  }
  if (i != tags.size()) {
    return bad();
  }
  return absl::StrJoin(tags, "-");
}

absl::StatusOr<std::string> ValidateText(absl::string_view input,
                                         size_t max_bytes) {
  if (input.size() > max_bytes) {
    return Invalid(absl::StrCat("must be at most ", max_bytes, " bytes"));
  }
  if (!IsValidUtf8(input)) {
    return Invalid("must be valid UTF-8");
  }
  for (char c : input) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Invalid("must not contain control characters");
    }
  }
  return std::string(input);
}

absl::StatusOr<std::string> ValidateRequestId(absl::string_view input) {
  if (input.empty() || input.size() > kMaxRequestIdBytes) {
    return Invalid(
        absl::StrCat("must be 1-", kMaxRequestIdBytes, " characters"));
  }
  for (char c : input) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
          c == '_' || c == ':' || c == '-')) {
      return Invalid("may only hold letters, digits and . _ : -");
    }
  }
  return std::string(input);
}

bool IsValidUtf8(absl::string_view input) {
  size_t i = 0;
  while (i < input.size()) {
    const auto lead = static_cast<unsigned char>(input[i]);
    size_t length;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1Fu;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0Fu;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07u;
    } else {
      return false;
    }
    if (i + length > input.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(input[i + k]);
      if ((continuation & 0xC0) != 0x80) {
        return false;
      }
      code_point = (code_point << 6) | (continuation & 0x3Fu);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace roster::domain
