#include <nghttp2/nghttp2.h>

// A data provider whose source is the stream (the session's callback finds the body by stream id).
static inline nghttp2_data_provider corral_nghttp2_provider(nghttp2_data_source_read_callback callback) {
    nghttp2_data_provider provider;
    provider.source.ptr = 0;
    provider.read_callback = callback;
    return provider;
}
