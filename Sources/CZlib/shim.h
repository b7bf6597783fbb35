#include <zlib.h>

// deflateInit and inflateInit are macros, which Swift cannot call; these wrappers expand them.
static inline int warren_deflate_init(z_stream *stream, int level) { return deflateInit(stream, level); }
static inline int warren_inflate_init(z_stream *stream) { return inflateInit(stream); }
