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

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/// HMAC-SHA256 with `key` for a session ticket (the parameters are macros and a C array).
static inline int corral_ticket_mac_init(EVP_MAC_CTX *mac, const unsigned char *key, size_t length) {
    OSSL_PARAM parameters[2];
    parameters[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    parameters[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(mac, key, length, parameters);
}

/// Session lifetime: how long a ticket is good for (the hint TLS 1.3 clients get).
static inline long corral_ssl_ctx_set_session_lifetime(SSL_CTX *context, long seconds) {
    return SSL_CTX_set_timeout(context, seconds);
}

/// X509_NAME_print_ex's RFC 2253 (4514) form, mod_ssl's SSL_CLIENT_S_DN.
static const unsigned long corral_xn_flag_rfc2253 = XN_FLAG_RFC2253;
