#pragma once
// The read buffers of a thread, shared by every connection the thread serves: input is read,
// decrypted and handed to the consumer here, so an idle connection owns no buffer at all.

#include <cstddef>
#include <memory>

namespace pimap::net {

class Scratch {
 public:
  // Bytes read from a socket per attempt: a handful of TLS records.
  static constexpr std::size_t kReadChunk = 64 * 1024;

  // Plaintext for the consumer (retained input + new input) and, for lean TLS, the ciphertext
  // being opened. Valid until the thread's next call.
  static char* plain(std::size_t size) { return local().plain_.get(size); }
  static char* cipher(std::size_t size) { return local().cipher_.get(size); }

 private:
  struct Buffer {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
    char* get(std::size_t want) {
      if (want > size) {
        data.reset(new char[want]);
        size = want;
      }
      return data.get();
    }
  };
  static Scratch& local() {
    thread_local Scratch scratch;
    return scratch;
  }
  Buffer plain_;
  Buffer cipher_;
};

}  // namespace pimap::net
