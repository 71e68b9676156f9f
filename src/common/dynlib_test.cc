#include "common/dynlib.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

TEST(DynlibTest, MissingLibraryIsUnavailableAndNamed) {
  auto lib = OpenSharedLibrary("libretl-relay-no-such-library.so.9");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(lib.status().message().find("libretl-relay-no-such-library.so.9"), std::string::npos);
}

TEST(DynlibTest, SymbolsResolveAndMissingOnesAreNamed) {
  auto lib = OpenSharedLibrary("libc.so.6");
  ASSERT_TRUE(lib.ok()) << lib.status().message();
  EXPECT_EQ(*OpenSharedLibrary("libc.so.6"), *lib) << "opened once";
  size_t (*strlen_fn)(const char*) = nullptr;
  Status s;
  ResolveSymbol(*lib, "strlen", &strlen_fn, &s);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(strlen_fn("relay"), 5u);
  int (*missing)() = nullptr;
  ResolveSymbol(*lib, "retl_relay_no_such_function", &missing, &s);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("retl_relay_no_such_function"), std::string::npos);
}

struct OneFunction {
  size_t (*strlen_fn)(const char*) = nullptr;
};

TEST(DynlibTest, LazyLibraryFillsItsTableOnce) {
  int fills = 0;
  auto fill = [&](void* lib, OneFunction* api) {
    ++fills;
    Status s;
    ResolveSymbol(lib, "strlen", &api->strlen_fn, &s);
    return s;
  };
  auto first = LazyLibrary<OneFunction>::Get("libc.so.6", fill);
  auto second = LazyLibrary<OneFunction>::Get("libc.so.6", fill);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(fills, 1);
  EXPECT_EQ((*first)->strlen_fn("abc"), 3u);
}

}  // namespace
}  // namespace relay
