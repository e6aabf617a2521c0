/*
 * PCP wire format (RFC 6887 7, 11, 13). Every read is bounds-checked
 * against the datagram length; nothing here trusts a length field.
 */
#include <string.h>

#include "proto/pcp/pcp_wire.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void pm_pcp_addr_from_ipv4(uint8_t out[16], uint32_t ipv4_be)
{
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, &ipv4_be, 4);
}

int pm_pcp_addr_is_ipv4(const uint8_t addr[16])
{
    static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(addr, prefix, sizeof(prefix)) == 0;
}

uint32_t pm_pcp_addr_to_ipv4(const uint8_t addr[16])
{
    uint32_t v;
    memcpy(&v, addr + 12, 4);
    return v;
}

static size_t put_option(uint8_t *p, uint8_t code, const uint8_t *data, uint16_t len)
{
    p[0] = code;
    p[1] = 0;
    put16(p + 2, len);
    if (len)
        memcpy(p + 4, data, len);
    return 4 + (size_t)((len + 3u) & ~3u);
}

size_t pm_pcp_encode_request(const pm_pcp_request *req, uint8_t *buf, size_t cap)
{
    size_t need = PM_PCP_HDR_LEN;
    size_t off;

    if (req->opcode != PM_PCP_OP_ANNOUNCE && req->opcode != PM_PCP_OP_MAP)
        return 0;
    if (req->n_filters > PM_PCP_MAX_FILTERS)
        return 0;
    if (req->opcode == PM_PCP_OP_MAP)
        need += PM_PCP_MAP_LEN + (req->third_party ? 20 : 0) + (req->prefer_failure ? 4 : 0) +
                req->n_filters * 24u;
    if (cap < need)
        return 0;

    memset(buf, 0, need);
    buf[0] = PM_PCP_VERSION;
    buf[1] = req->opcode; /* R bit clear: request */
    put32(buf + 4, req->lifetime);
    memcpy(buf + 8, req->client_addr, 16);
    off = PM_PCP_HDR_LEN;
    if (req->opcode != PM_PCP_OP_MAP)
        return off;

    memcpy(buf + off, req->nonce, PM_PCP_NONCE_LEN);
    buf[off + 12] = req->protocol;
    put16(buf + off + 16, req->internal_port);
    put16(buf + off + 18, req->external_port);
    memcpy(buf + off + 20, req->external_addr, 16);
    off += PM_PCP_MAP_LEN;

    /* THIRD_PARTY first: a server that does not know it stops there
     * (UNSUPP_OPTION, RFC 6887 7.3), before any other option */
    if (req->third_party)
        off += put_option(buf + off, PM_PCP_OPT_THIRD_PARTY, req->third_party_addr, 16);
    if (req->prefer_failure)
        off += put_option(buf + off, PM_PCP_OPT_PREFER_FAILURE, NULL, 0);
    for (unsigned i = 0; i < req->n_filters; i++) {
        const pm_pcp_filter *f = &req->filters[i];
        uint8_t data[20] = { 0 };
        data[1] = f->prefix_len;
        put16(data + 2, f->remote_port);
        memcpy(data + 4, f->remote_addr, 16);
        off += put_option(buf + off, PM_PCP_OPT_FILTER, data, sizeof(data));
    }
    return off;
}

static pm_pcp_decode_status decode_options(const uint8_t *buf, size_t off, size_t len,
                                           pm_pcp_response *out)
{
    while (off < len) {
        uint8_t code;
        uint16_t olen;
        size_t padded;

        if (len - off < 4)
            return PM_PCP_DECODE_BAD_OPTION;
        code = buf[off];
        olen = get16(buf + off + 2);
        padded = ((size_t)olen + 3u) & ~(size_t)3u;
        if (padded > len - off - 4)
            return PM_PCP_DECODE_BAD_OPTION;
        switch (code) {
        case PM_PCP_OPT_FILTER:
            if (olen != 20)
                return PM_PCP_DECODE_BAD_OPTION;
            if (out->n_filters < PM_PCP_MAX_FILTERS)
                out->n_filters++;
            break;
        case PM_PCP_OPT_THIRD_PARTY:
            if (olen != 16)
                return PM_PCP_DECODE_BAD_OPTION;
            if (!out->third_party)
                memcpy(out->third_party_addr, buf + off + 4, 16);
            out->third_party = 1;
            break;
        case PM_PCP_OPT_PREFER_FAILURE:
            if (olen != 0)
                return PM_PCP_DECODE_BAD_OPTION;
            break;
        default:
            /* Unknown options are skipped: the server only echoes what we
             * sent, and we ignore what we do not understand. */
            break;
        }
        off += 4 + padded;
    }
    return PM_PCP_DECODE_OK;
}

pm_pcp_decode_status pm_pcp_decode_response(const uint8_t *buf, size_t len, pm_pcp_response *out)
{
    size_t off = PM_PCP_HDR_LEN;

    memset(out, 0, sizeof(*out));
    if (len < 4)
        return PM_PCP_DECODE_SHORT;
    out->version = buf[0];
    out->opcode = buf[1] & 0x7f;
    if (buf[0] != PM_PCP_VERSION) {
        /* A NAT-PMP server puts a 16-bit result at offset 2 (RFC 6886 3.5);
         * a PCP server of another version puts it at offset 3. Either way
         * the low byte is what matters. */
        out->result = buf[3];
        return PM_PCP_DECODE_VERSION;
    }
    if (len < PM_PCP_HDR_LEN)
        return PM_PCP_DECODE_SHORT;
    if (len > PM_PCP_MAX_MSG)
        return PM_PCP_DECODE_LONG;
    if (len % 4)
        return PM_PCP_DECODE_UNALIGNED;
    if (!(buf[1] & 0x80))
        return PM_PCP_DECODE_NOT_RESPONSE;

    out->result = buf[3];
    out->lifetime = get32(buf + 4);
    out->epoch = get32(buf + 8);

    if (out->opcode == PM_PCP_OP_MAP) {
        if (len < PM_PCP_HDR_LEN + PM_PCP_MAP_LEN) {
            /* Only an error reply may omit the payload. */
            return out->result == PM_PCP_SUCCESS ? PM_PCP_DECODE_SHORT : PM_PCP_DECODE_OK;
        }
        out->has_map = 1;
        memcpy(out->nonce, buf + off, PM_PCP_NONCE_LEN);
        out->protocol = buf[off + 12];
        out->internal_port = get16(buf + off + 16);
        out->external_port = get16(buf + off + 18);
        memcpy(out->external_addr, buf + off + 20, 16);
        off += PM_PCP_MAP_LEN;
    } else if (out->opcode != PM_PCP_OP_ANNOUNCE) {
        return PM_PCP_DECODE_OK; /* payload of other opcodes is not ours to read */
    }
    return decode_options(buf, off, len, out);
}

const char *pm_pcp_result_name(unsigned result)
{
    static const char *const names[] = {
        "SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST",
        "UNSUPP_OPCODE", "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE",
        "NO_RESOURCES", "UNSUPP_PROTOCOL", "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL",
        "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
    };
    return result < sizeof(names) / sizeof(names[0]) ? names[result] : "UNKNOWN";
}
