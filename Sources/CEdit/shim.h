// libedit's readline interface (BSD-licensed): line editing and history for corralctl's prompt.
#include <stdio.h>
#include <editline/readline.h>
