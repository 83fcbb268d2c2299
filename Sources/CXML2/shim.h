#ifndef CORRAL_CXML2_H
#define CORRAL_CXML2_H
// libxml2's parser and tree, for XML-RPC on the control socket.
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif
