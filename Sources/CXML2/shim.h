#ifndef CORRAL_CXML2_H
#define CORRAL_CXML2_H
// libxml2's parser and tree, for XML-RPC on the control socket.
// Debian's libxml2 is built with ICU, so its headers pull in the system's <unicode/*.h>; a Swift
// module that also sees Foundation's own ICU (corralctl, through swift-argument-parser) then has
// two different UErrorCode enums and fails to build. corral uses no ICU type of libxml2's (only
// xmlCharEncodingHandler, which it never touches, has ICU fields), so the headers are read
// without it.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif
