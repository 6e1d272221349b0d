// JPEG files from a directory played in a loop, sorted by name. Every file is checked with
// inspect_jpeg when the source opens (and again when it is read, as files can change): broken
// or non-JPEG files are skipped with a one-line reason (poll_note()), and opening fails when
// no file is usable. Images pass through unchanged: quality 0 (unknown), size from the SOF.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "device/frame_source.h"
#include "device/jpeg_files.h"

namespace cellrtc::device {

class DirectorySource : public FrameSource {
 public:
  static SourceResult<std::unique_ptr<DirectorySource>> open(std::string path,
                                                             size_t max_file_size = kMaxFrameSize);

  SourceResult<CapturedFrame> next(Instant now, const CaptureSettings& settings) override;
  const std::string& name() const override { return name_; }

  // The usable files, in playing order (full paths).
  const std::vector<std::string>& files() const { return files_; }

 private:
  DirectorySource(std::string path, size_t max_file_size);

  std::string path_;
  std::string name_;
  size_t max_file_size_;
  std::vector<std::string> files_;
  size_t next_index_ = 0;
};

}  // namespace cellrtc::device
