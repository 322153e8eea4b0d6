// Whether this build runs under AddressSanitizer, whose quarantine holds
// freed memory on purpose: resident-memory bounds do not hold there; and
// whether under ThreadSanitizer.
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

// ThreadSanitizer's runtime, like ASan's, serves malloc from its own
// allocator, so glibc's heap statistics do not see the program's memory.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitized = true;
#else
inline constexpr bool kThreadSanitized = false;
#endif
#else
inline constexpr bool kThreadSanitized = false;
#endif

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_SANITIZERS_H_
