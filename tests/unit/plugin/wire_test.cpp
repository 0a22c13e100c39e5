// The runner protocol's frames: round trips, frames split across reads, and every kind of
// malformed or oversized input a hostile runner could send.
#include <catch2/catch.hpp>

#include "plugin/wire.hpp"

using namespace cronhost::plugin;

TEST_CASE("calls and replies survive encoding, including empty and binary fields") {
  const Call call{Op::kDbQuery, "app", std::string("SELECT ?\0x", 10), ""};
  const std::string frame = encode_call(call);
  FrameBuffer buffer;
  buffer.append(frame.data(), frame.size());
  auto body = buffer.next();
  REQUIRE(body);
  auto decoded = decode_call(*body);
  REQUIRE(decoded);
  CHECK(decoded->op == Op::kDbQuery);
  CHECK(decoded->a == "app");
  CHECK(decoded->b == call.b);
  CHECK(decoded->c.empty());
  CHECK_FALSE(buffer.next());

  const std::string reply_frame = encode_reply(Reply::error(CRONHOST_EDENIED, "not allowed"));
  auto reply = decode_reply(reply_frame.substr(4));
  REQUIRE(reply);
  CHECK(reply->status == CRONHOST_EDENIED);
  CHECK(reply->payload == "not allowed");
}

TEST_CASE("a frame arriving a byte at a time is cut out whole, and the next one after it") {
  const std::string two = encode_call({Op::kLog, "1", "hello", ""}) + encode_call({Op::kParams, "", "", ""});
  FrameBuffer buffer;
  std::vector<Call> calls;
  for (char c : two) {
    buffer.append(&c, 1);
    while (auto body = buffer.next()) calls.push_back(*decode_call(*body));
  }
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].b == "hello");
  CHECK(calls[1].op == Op::kParams);
}

TEST_CASE("malformed calls are refused, never read past their end") {
  CHECK_FALSE(decode_call(""));
  CHECK_FALSE(decode_call(std::string(1, '\0')));                           // op 0
  CHECK_FALSE(decode_call(std::string(1, static_cast<char>(kLastOp + 1))));  // unknown op
  std::string body = encode_call({Op::kHttp, "{}", "", ""}).substr(4);
  CHECK(decode_call(body));
  CHECK_FALSE(decode_call(body.substr(0, body.size() - 1)));  // truncated
  CHECK_FALSE(decode_call(body + "x"));                        // trailing bytes
  std::string lying = body;
  lying[1] = '\x7f';  // field a claims 127 bytes
  CHECK_FALSE(decode_call(lying));
  CHECK_FALSE(decode_reply("abc"));
}

TEST_CASE("a frame announcing more than the limit marks the buffer oversized") {
  FrameBuffer buffer;
  const char huge[4] = {'\xff', '\xff', '\xff', '\x7f'};
  buffer.append(huge, 4);
  CHECK_FALSE(buffer.next());
  CHECK(buffer.oversized());
}
