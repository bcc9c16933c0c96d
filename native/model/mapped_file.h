// A read-only memory map of one file (RAII). Weights are read from the page cache, never copied
// into the JS heap; f32 tensors are used in place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mv {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws EngineError naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Reads the whole file into this mapping now, 2 MB ranges from the end back, on the calling
  // thread (Linux 5.14+; elsewhere a no-op and pages come in on first use). On a mapping advised for
  // huge pages, faults in ranges nothing has cached get 2 MB folios; a decode step's threads
  // faulting their interleaved shares got them for a third of the Q8_0 bench file.
  void populate() const;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mv
