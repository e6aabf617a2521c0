"""Versions: of this binding, and of the libportmap API it was written for."""

# The binding is released with the library and carries its version; the
# build backend reads __version__ from this file (keep it a plain literal).
__version__ = "0.6.0"

# The API generation (PORTMAP_API_VERSION_MAJOR/MINOR in
# include/portmap/version.h) whose structs and functions this binding
# declares. A library reporting another major or minor is refused at import.
API_MAJOR = 0
API_MINOR = 6
