#include <cstdlib>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // libcurl4 (OpenSSL) depends on libldap, which depends on GnuTLS; GnuTLS initialises itself
  // when loaded unless told not to, which costs ~0.7 MB of resident memory and start-up work
  // for a library the relay never uses (curl is limited to http and https, and libldap calls
  // gnutls_global_init itself if it is ever used). Set here, before any thread exists, since
  // setenv is not thread-safe; an operator's own setting wins.
  setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
  return relay::cli::RunCli(argc, argv);
}
