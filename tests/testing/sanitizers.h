// Whether this build runs under AddressSanitizer, whose quarantine holds
// freed memory on purpose: resident-memory bounds do not hold there.
#ifndef ROSTER_TESTS_TESTING_SANITIZERS_H_
#define ROSTER_TESTS_TESTING_SANITIZERS_H_

namespace roster::testing {

// GCC says so with __SANITIZE_ADDRESS__; clang 14 only through __has_feature.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitized = true;
#else
inline constexpr bool kAddressSanitized = false;
#endif
#else
inline constexpr bool kAddressSanitized = false;
#endif

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_SANITIZERS_H_
