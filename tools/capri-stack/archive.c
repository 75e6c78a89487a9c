/*
 * ar archives (static libraries): walk the members and hand each ordinary
 * one to a callback. Understands the GNU/SysV long-name table ("//" with
 * "/offset" references), GNU "name/" short names, the symbol tables ("/" and
 * "/SYM64/", skipped), and BSD "#1/len" names stored before the data.
 */
#include "input.h"

#include <stdio.h>

#define AR_MAGIC "!<arch>\n"
#define AR_THIN_MAGIC "!<thin>\n"
#define AR_HEADER_SIZE 60

int archive_looks_like(const uint8_t *data, size_t size)
{
    return size >= 8 && (memcmp(data, AR_MAGIC, 8) == 0 || memcmp(data, AR_THIN_MAGIC, 8) == 0);
}

/* A right-padded decimal field; -1 unless it is digits then spaces. */
static int decimal_field(const uint8_t *field, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && field[i] >= '0' && field[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(field[i] - '0'); /* at most 10 digits: cannot overflow */
    if (i == 0)
        return -1;
    for (; i < len; i++)
        if (field[i] != ' ')
            return -1;
    *out = v;
    return 0;
}

/* Copy at most len bytes of a name, stopping at a terminator. */
static void copy_name(char *out, size_t cap, const uint8_t *in, size_t len)
{
    size_t n = 0;
    for (; n < len && n + 1 < cap && in[n] != '\0' && in[n] != '\n'; n++)
        out[n] = (char)in[n];
    out[n] = '\0';
}

int archive_walk(const char *name, const uint8_t *data, size_t size, archive_member_fn fn,
                 void *ctx, struct error *err)
{
    if (size >= 8 && memcmp(data, AR_THIN_MAGIC, 8) == 0)
        return errorf(err, "%s: thin archives are not supported: pass the member files "
                      "themselves", name);
    const uint8_t *longnames = NULL;
    uint64_t longnames_size = 0;
    uint64_t pos = 8;
    while (pos < size) {
        if (size - pos < AR_HEADER_SIZE)
            return errorf(err, "%s: archive member header at offset %llu is truncated", name,
                          (unsigned long long)pos);
        const uint8_t *h = data + pos;
        uint64_t msize;
        if (h[58] != '`' || h[59] != '\n' || decimal_field(h + 48, 10, &msize))
            return errorf(err, "%s: malformed archive member header at offset %llu", name,
                          (unsigned long long)pos);
        uint64_t start = pos + AR_HEADER_SIZE;
        if (!in_bounds(start, msize, size))
            return errorf(err, "%s: archive member at offset %llu (%llu bytes) runs past the "
                          "end of the file", name, (unsigned long long)pos,
                          (unsigned long long)msize);
        const uint8_t *mdata = data + start;
        uint64_t mlen = msize;
        char member[256];
        int special = 0; /* symbol index or name table, not an object */

        if (memcmp(h, "// ", 3) == 0) {
            longnames = mdata;
            longnames_size = msize;
            special = 1;
        } else if (memcmp(h, "/ ", 2) == 0 || memcmp(h, "/SYM64/ ", 8) == 0 ||
                   memcmp(h, "__.SYMDEF", 9) == 0) {
            special = 1;
        } else if (h[0] == '/' && h[1] >= '0' && h[1] <= '9') {
            uint64_t off;
            if (decimal_field(h + 1, 15, &off) || !longnames || off >= longnames_size)
                return errorf(err, "%s: archive member at offset %llu names a long name that "
                              "is not in the name table", name, (unsigned long long)pos);
            copy_name(member, sizeof member, longnames + off, longnames_size - off);
            size_t n = strlen(member);
            if (n > 0 && member[n - 1] == '/')
                member[n - 1] = '\0';
        } else if (memcmp(h, "#1/", 3) == 0) {
            uint64_t nlen;
            if (decimal_field(h + 3, 13, &nlen) || nlen > mlen)
                return errorf(err, "%s: malformed BSD archive member name at offset %llu",
                              name, (unsigned long long)pos);
            copy_name(member, sizeof member, mdata, nlen);
            mdata += nlen;
            mlen -= nlen;
        } else {
            copy_name(member, sizeof member, h, 16);
            size_t n = strlen(member);
            while (n > 0 && member[n - 1] == ' ')
                member[--n] = '\0';
            if (n > 0 && member[n - 1] == '/')
                member[--n] = '\0';
        }
        if (!special && member[0] == '\0')
            snprintf(member, sizeof member, "member@%llu", (unsigned long long)pos);
        if (!special && fn(ctx, member, mdata, mlen, err))
            return -1;
        pos = start + msize;
        pos += pos & 1; /* members are 2-aligned */
    }
    return 0;
}
