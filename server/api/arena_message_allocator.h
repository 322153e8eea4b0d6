// ArenaMessageAllocator: gives each call of a callback unary method its
// request and response on one protobuf Arena, whose first block lives inside
// the holder. Building a response then allocates little, and freeing it is one
// step instead of a destructor per field: callgrind put ~5 % of a cached
// GetUser in destroying the User message field by field.
//
// Thread-safe (each call gets its own holder).
#ifndef ROSTER_SERVER_API_ARENA_MESSAGE_ALLOCATOR_H_
#define ROSTER_SERVER_API_ARENA_MESSAGE_ALLOCATOR_H_

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>
#include <memory>

namespace roster::api {

template <typename Request, typename Response>
class ArenaMessageAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    // gRPC owns the holder until it calls Release().
    return std::make_unique<Holder>().release();
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(initial_block_, sizeof(initial_block_))) {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }

    // Takes back the ownership AllocateMessages() gave away.
    void Release() override { std::unique_ptr<Holder> self(this); }

   private:
    static google::protobuf::ArenaOptions Options(char* block, size_t size) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = size;
      return options;
    }

    // A cached user with a few identifiers and small metadata fits.
    alignas(std::max_align_t) char initial_block_[4096];
    google::protobuf::Arena arena_;
  };
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_ARENA_MESSAGE_ALLOCATOR_H_
