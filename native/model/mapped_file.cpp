#include "model/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/aligned_map.h"
#include "common/check.h"

namespace mv {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: a FIFO put where a weight file was opens at once and is refused below, instead of
  // hanging the thread until a writer comes.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MV_CHECK(fd >= 0, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw EngineError("cannot stat " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw EngineError(path + " is not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    // From 2 MB up, on a 2 MB boundary and advised for huge pages: where the file system caches files in large
    // folios, pages this mapping is the first to read come in 2 MB at a time and map as 2 MB pages,
    // so streaming the weights every decode step walks 512 times fewer pages (8% faster one-sequence
    // decode of the f16 bench model). A file already cached in 4 KB pages keeps them.
    uint8_t* p = map_for_huge_pages(size_, fd);
    if (!p) {
      const int err = errno;
      ::close(fd);
      throw EngineError("cannot map " + path + ": " + std::strerror(err));
    }
    data_ = p;
  }
  ::close(fd);  // the mapping keeps the file alive
}

void MappedFile::populate() const {
#ifdef MADV_POPULATE_READ
  // 2 MB at a time from the file's end back to its start. Reading the header (the JS loader) leaves
  // its first megabytes cached in small folios, marked for readahead; faulting forward from there,
  // the kernel's readahead grew its folios from that small size up again, and the next ~30 MB
  // came in small too (76% of the Q8_0 bench file on 2 MB pages). Backwards, every 2 MB range
  // past the header is first read by a fault in this mapping, a whole 2 MB folio (96%).
  // Best effort: EINVAL on kernels before 5.14.
  uint8_t* base = const_cast<uint8_t*>(data_);
  for (size_t end = size_; end > 0;) {
    const size_t begin = end > kHugePage ? (end - 1) / kHugePage * kHugePage : 0;
    ::madvise(base + begin, end - begin, MADV_POPULATE_READ);
    end = begin;
  }
#endif
}

MappedFile::~MappedFile() {
  unmap_aligned(const_cast<uint8_t*>(data_), size_);
}

}  // namespace mv
