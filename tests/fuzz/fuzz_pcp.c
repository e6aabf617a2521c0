/*
 * PCP responses (RFC 6887 7, 11, 13) through pm_pcp_decode_response, as
 * the PCP backend receives them. Besides memory safety, the decoded
 * fields are checked against the bytes and the option walk against a
 * second, deliberately naive reading of section 7.3; and a request built
 * from the same bytes must survive encode -> decode.
 */
#include <string.h>

#include "fuzz.h"
#include "proto/pcp/pcp_wire.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Section 7.3 read as a list of (code, length) records, each padded to 4
 * bytes, that must tile the rest of the message exactly. Returns the
 * expected status for the options from off on. */
static pm_pcp_decode_status expect_options(const uint8_t *buf, size_t off, size_t len,
                                           unsigned *filters, int *third_party)
{
    *filters = 0;
    *third_party = 0;
    while (len - off >= 4) {
        unsigned code = buf[off], olen = (unsigned)buf[off + 2] << 8 | buf[off + 3];
        size_t total = 4 + olen + (4 - olen % 4) % 4;

        if (total > len - off)
            return PM_PCP_DECODE_BAD_OPTION;
        if ((code == PM_PCP_OPT_FILTER && olen != 20) ||
            (code == PM_PCP_OPT_THIRD_PARTY && olen != 16) ||
            (code == PM_PCP_OPT_PREFER_FAILURE && olen != 0))
            return PM_PCP_DECODE_BAD_OPTION;
        if (code == PM_PCP_OPT_FILTER && *filters < PM_PCP_MAX_FILTERS)
            (*filters)++;
        if (code == PM_PCP_OPT_THIRD_PARTY)
            *third_party = 1;
        off += total;
    }
    return off == len ? PM_PCP_DECODE_OK : PM_PCP_DECODE_BAD_OPTION;
}

static void check_decode(const uint8_t *data, size_t size)
{
    pm_pcp_response r;
    pm_pcp_decode_status s = pm_pcp_decode_response(data, size, &r);
    unsigned filters;
    int third;

    FUZZ_CHECK(s >= PM_PCP_DECODE_OK && s <= PM_PCP_DECODE_BAD_OPTION);
    /* what the PCP backend logs and looks at must be safe to use */
    FUZZ_CHECK(pm_pcp_result_name(r.result) != NULL);
    FUZZ_CHECK(r.n_filters <= PM_PCP_MAX_FILTERS);
    if (size < 4) {
        FUZZ_CHECK(s == PM_PCP_DECODE_SHORT);
        return;
    }
    if (data[0] != PM_PCP_VERSION) {
        FUZZ_CHECK(s == PM_PCP_DECODE_VERSION && r.version == data[0]);
        return;
    }
    if (s != PM_PCP_DECODE_OK && s != PM_PCP_DECODE_BAD_OPTION)
        return;
    FUZZ_CHECK(size >= PM_PCP_HDR_LEN && size <= PM_PCP_MAX_MSG && size % 4 == 0);
    FUZZ_CHECK(data[1] & 0x80);
    FUZZ_CHECK(r.opcode == (data[1] & 0x7f) && r.result == data[3]);
    FUZZ_CHECK(r.lifetime == be32(data + 4) && r.epoch == be32(data + 8));
    if (r.opcode == PM_PCP_OP_MAP) {
        const uint8_t *p = data + PM_PCP_HDR_LEN;
        if (size < PM_PCP_HDR_LEN + PM_PCP_MAP_LEN) {
            /* only an error may come without the payload */
            FUZZ_CHECK(!r.has_map && r.result != PM_PCP_SUCCESS);
            return;
        }
        FUZZ_CHECK(r.has_map);
        FUZZ_CHECK(memcmp(r.nonce, p, PM_PCP_NONCE_LEN) == 0 && r.protocol == p[12]);
        FUZZ_CHECK(r.internal_port == (p[16] << 8 | p[17]));
        FUZZ_CHECK(r.external_port == (p[18] << 8 | p[19]));
        FUZZ_CHECK(memcmp(r.external_addr, p + 20, 16) == 0);
        FUZZ_CHECK(expect_options(data, PM_PCP_HDR_LEN + PM_PCP_MAP_LEN, size, &filters,
                                  &third) == s);
    } else if (r.opcode == PM_PCP_OP_ANNOUNCE) {
        FUZZ_CHECK(!r.has_map);
        FUZZ_CHECK(expect_options(data, PM_PCP_HDR_LEN, size, &filters, &third) == s);
    } else {
        FUZZ_CHECK(s == PM_PCP_DECODE_OK && !r.has_map);
        return;
    }
    if (s == PM_PCP_DECODE_OK)
        FUZZ_CHECK(r.n_filters == filters && r.third_party == third);
    if (r.has_map && pm_pcp_addr_is_ipv4(r.external_addr)) {
        uint8_t again[16];
        pm_pcp_addr_from_ipv4(again, pm_pcp_addr_to_ipv4(r.external_addr));
        FUZZ_CHECK(memcmp(again, r.external_addr, 16) == 0);
    }
}

/* A MAP or ANNOUNCE request made of the input's first bytes. */
static void check_roundtrip(const uint8_t *data, size_t size)
{
    fuzz_in in = { data, size };
    pm_pcp_request q;
    pm_pcp_response r;
    uint8_t buf[PM_PCP_MAX_MSG];
    const uint8_t *b;
    size_t len;

    memset(&q, 0, sizeof(q));
    q.opcode = fuzz_u8(&in) % 4;
    q.lifetime = fuzz_u32(&in);
    if (fuzz_bytes(&in, &b, 16) == 16)
        memcpy(q.client_addr, b, 16);
    if (fuzz_bytes(&in, &b, PM_PCP_NONCE_LEN) == PM_PCP_NONCE_LEN)
        memcpy(q.nonce, b, PM_PCP_NONCE_LEN);
    q.protocol = fuzz_u8(&in);
    q.internal_port = fuzz_u16(&in);
    q.external_port = fuzz_u16(&in);
    if (fuzz_bytes(&in, &b, 16) == 16)
        memcpy(q.external_addr, b, 16);
    q.prefer_failure = fuzz_u8(&in) & 1;
    q.n_filters = fuzz_u8(&in) % (PM_PCP_MAX_FILTERS + 2);
    for (unsigned i = 0; i < q.n_filters && i < PM_PCP_MAX_FILTERS; i++) {
        q.filters[i].prefix_len = fuzz_u8(&in);
        q.filters[i].remote_port = fuzz_u16(&in);
        if (fuzz_bytes(&in, &b, 16) == 16)
            memcpy(q.filters[i].remote_addr, b, 16);
    }

    len = pm_pcp_encode_request(&q, buf, sizeof(buf));
    if (q.opcode > PM_PCP_OP_MAP || q.n_filters > PM_PCP_MAX_FILTERS) {
        FUZZ_CHECK(len == 0);
        return;
    }
    FUZZ_CHECK(len >= PM_PCP_HDR_LEN && len <= sizeof(buf) && len % 4 == 0);
    FUZZ_CHECK(pm_pcp_decode_response(buf, len, &r) == PM_PCP_DECODE_NOT_RESPONSE);
    buf[1] |= 0x80; /* as the server echoes it */
    FUZZ_CHECK(pm_pcp_decode_response(buf, len, &r) == PM_PCP_DECODE_OK);
    FUZZ_CHECK(r.opcode == q.opcode && r.lifetime == q.lifetime);
    if (q.opcode != PM_PCP_OP_MAP)
        return;
    FUZZ_CHECK(r.has_map && memcmp(r.nonce, q.nonce, PM_PCP_NONCE_LEN) == 0);
    FUZZ_CHECK(r.protocol == q.protocol && r.internal_port == q.internal_port &&
               r.external_port == q.external_port);
    FUZZ_CHECK(memcmp(r.external_addr, q.external_addr, 16) == 0);
    FUZZ_CHECK(r.n_filters == q.n_filters && !r.third_party);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    check_roundtrip(data, size);
    return 0;
}
