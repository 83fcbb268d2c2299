#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

// What OpenSSL defines as macros (Swift imports functions and simple constants only).

static const uint64_t corral_ssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;
static const uint64_t corral_ssl_op_ignore_unexpected_eof = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const uint64_t corral_ssl_op_enable_ktls = SSL_OP_ENABLE_KTLS;
static const uint64_t corral_ssl_op_no_compression = SSL_OP_NO_COMPRESSION;
static const uint64_t corral_ssl_op_cipher_server_preference = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t corral_ssl_op_no_tls13 = SSL_OP_NO_TLSv1_3;

static inline int corral_ssl_ctx_set_min_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline long corral_ssl_ctx_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline long corral_ssl_mode_for_engine(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}

static inline long corral_ssl_ctx_set_read_ahead(SSL_CTX *context, long on) {
    return SSL_CTX_set_read_ahead(context, on);
}

static inline long corral_ssl_ctx_no_session_cache(SSL_CTX *context) {
    return SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
}

/// Whether OpenSSL hands the connection's sending to the kernel (kTLS took).
static inline int corral_ssl_kernel_sends(SSL *ssl) {
    return (int)BIO_get_ktls_send(SSL_get_wbio(ssl));
}

/// The reason code of an OpenSSL error (ERR_GET_REASON is a macro).
static inline int corral_err_reason(unsigned long error) {
    return ERR_GET_REASON(error);
}

static const int corral_ssl_r_http_request = SSL_R_HTTP_REQUEST;
