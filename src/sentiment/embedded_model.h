// The built-in fastText model, compiled into the library from data/fasttext/sst2.ftz by
// observe_server/embed_file.cmake so that `engine: fasttext` needs no data file at run time (nor
// in a Lambda zip). Private to the sentiment component.
#pragma once

#include <string_view>

namespace sentiflow::sentiment {

// The bytes of data/fasttext/sst2.ftz as it was at build time. Static storage.
std::string_view builtin_fasttext_model_bytes();

}  // namespace sentiflow::sentiment
