"""The layout of a symbol table in the kernel cache (lib/kernel/symtab-cache.c: sysmap-v2-*.idx
and modsyms-*.idx), for tests that spoil one entry of such a file: struct symcache_header,
then the block sums, then the body at its page-aligned offset (the symbols, then their names).
"""
import struct

SYM_HEADER = 144  # struct symcache_header
SYM_SIZE = 16  # struct sym: addr, name offset, type, padding


def entry_offset(data, name):
    """The file offset of @name's entry in the cache file's bytes @data, or None"""
    nsyms, _, body = struct.unpack_from("<QQQ", data, SYM_HEADER - 32)
    names = body + nsyms * SYM_SIZE
    for i in range(nsyms):
        at = body + i * SYM_SIZE
        noff = struct.unpack_from("<I", data, at + 8)[0]
        if data[names + noff:names + noff + len(name) + 1] == name.encode() + b"\0":
            return at
    return None


def spoil_address(path, name):
    """Change @name's address in the cache file at @path (its checksums left as they were):
    True when its entry was found."""
    data = bytearray(open(path, "rb").read())
    at = entry_offset(data, name)
    if at is None:
        return False
    data[at + 1] ^= 0x10  # the address 0x1000 away
    with open(path, "wb") as f:
        f.write(data)
    return True
