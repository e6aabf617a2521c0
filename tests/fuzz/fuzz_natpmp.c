/*
 * NAT-PMP replies (RFC 6886 3.2, 3.3, 3.5) through pm_natpmp_decode, the
 * check the NAT-PMP backend runs before anything else reads a
 * datagram. A reply it accepts is what libnatpmp will then read into its
 * 16-byte buffer, so an accepted reply must be long enough for its
 * opcode and the decoded fields must be the bytes at the RFC's offsets.
 */
#include <string.h>

#include "fuzz.h"
#include "proto/natpmp/natpmp_wire.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_decode(const uint8_t *data, size_t size)
{
    pm_natpmp_reply r;
    pm_natpmp_status s = pm_natpmp_decode(data, size, &r);

    FUZZ_CHECK(s >= PM_NATPMP_OK && s <= PM_NATPMP_NOT_REPLY);
    if (s != PM_NATPMP_OK)
        return;
    FUZZ_CHECK(size >= 8 && size <= 1100);
    FUZZ_CHECK(data[0] == 0 && (data[1] & 0x80) && (data[1] & 0x7f) <= 2);
    FUZZ_CHECK(r.opcode == (data[1] & 0x7f));
    FUZZ_CHECK(r.result == (data[2] << 8 | data[3]) && r.epoch == be32(data + 4));
    if (r.result != 0)
        return;
    if (r.opcode == 0) {
        FUZZ_CHECK(size >= 12 && memcmp(&r.public_addr, data + 8, 4) == 0);
    } else {
        FUZZ_CHECK(size >= 16);
        FUZZ_CHECK(r.internal_port == (data[8] << 8 | data[9]));
        FUZZ_CHECK(r.external_port == (data[10] << 8 | data[11]));
        FUZZ_CHECK(r.lifetime == be32(data + 12));
    }
}

/* The request encoder, fed from the same bytes: lengths and field
 * offsets of RFC 6886 3.2 and 3.3. */
static void check_encode(const uint8_t *data, size_t size)
{
    fuzz_in in = { data, size };
    uint8_t buf[12];
    uint8_t op = fuzz_u8(&in) % 3;
    uint16_t iport = fuzz_u16(&in), eport = fuzz_u16(&in);
    uint32_t life = fuzz_u32(&in);
    size_t len = pm_natpmp_encode_map(buf, op, iport, eport, life);

    FUZZ_CHECK(buf[0] == 0 && buf[1] == op);
    if (op == 0) {
        FUZZ_CHECK(len == 2);
        return;
    }
    FUZZ_CHECK(len == 12 && buf[2] == 0 && buf[3] == 0);
    FUZZ_CHECK((buf[4] << 8 | buf[5]) == iport && (buf[6] << 8 | buf[7]) == eport);
    FUZZ_CHECK(be32(buf + 8) == life);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    check_encode(data, size);
    return 0;
}
