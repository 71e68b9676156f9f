#include "dbt/signature.h"

#include <gtest/gtest.h>

#include "../../test/support/testdata.h"

namespace relay::dbt {
namespace {

using relay::testing::ReadFileBytes;
using relay::testing::ReadTsv;
using relay::testing::TestdataPath;

TEST(SignatureTest, EveryVectorInSignaturesTsvVerifies) {
  auto rows = ReadTsv(TestdataPath("signatures.tsv"));
  ASSERT_EQ(rows.size(), 8u) << "test vectors missing: " << TestdataPath("signatures.tsv");
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    std::string body = ReadFileBytes(TestdataPath(row[0]));
    ASSERT_FALSE(body.empty()) << row[0];
    SignatureVerifier v({row[1]});
    EXPECT_TRUE(v.Verify(body, row[2]).ok()) << row[0] << " / " << row[1];
    EXPECT_EQ(SignBody(body, row[1]), row[2]) << row[0];
  }
}

TEST(SignatureTest, EveryCaseInMustFailTsvIsRejected) {
  auto rows = ReadTsv(TestdataPath("must_fail.tsv"));
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) {
    ASSERT_GE(row.size(), 3u);
    std::string body = ReadFileBytes(TestdataPath(row[0]));
    ASSERT_FALSE(body.empty()) << row[0];
    std::string header = row[2] == "(absent)" ? "" : row[2];
    Status s = SignatureVerifier({row[1]}).Verify(body, header);
    EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << row[0] << " " << row[2];
  }
}

TEST(SignatureTest, SanityVector) {
  EXPECT_EQ(SignBody(R"({"hello":"world"})", "12345abcde"),
            "3773f95cd20a6e21d36153c8939b80c2b6c98470db20fedaa03f375b77f535a4");
}

TEST(SignatureTest, AcceptsUppercaseHexAndSurroundingWhitespace) {
  SignatureVerifier v({"12345abcde"});
  EXPECT_TRUE(v.Verify(R"({"hello":"world"})",
                       " \t3773F95CD20A6E21D36153C8939B80C2B6C98470DB20FEDAA03F375B77F535A4 ").ok());
}

TEST(SignatureTest, RejectsWrongSecretWithoutEchoingTheExpectedMac) {
  SignatureVerifier v({"other-secret"});
  const std::string good = "3773f95cd20a6e21d36153c8939b80c2b6c98470db20fedaa03f375b77f535a4";
  Status s = v.Verify(R"({"hello":"world"})", good);
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message().find(SignBody(R"({"hello":"world"})", "other-secret")), std::string::npos);
}

TEST(SignatureTest, FailsClosedWithoutSecrets) {
  SignatureVerifier v({});
  EXPECT_EQ(v.Verify("{}", SignBody("{}", "x")).code(), StatusCode::kUnauthenticated);
}

TEST(SignatureTest, RejectsNonHexOfTheRightLength) {
  SignatureVerifier v({"k"});
  EXPECT_EQ(v.Verify("{}", std::string(64, 'g')).code(), StatusCode::kUnauthenticated);
}

TEST(SignatureTest, AnyOfSeveralSecretsVerifies) {
  SignatureVerifier v({"old-secret", "new-secret"});
  EXPECT_TRUE(v.Verify("body", SignBody("body", "new-secret")).ok());
  EXPECT_TRUE(v.Verify("body", SignBody("body", "old-secret")).ok());
  EXPECT_FALSE(v.Verify("body", SignBody("body", "third")).ok());
}

}  // namespace
}  // namespace relay::dbt
