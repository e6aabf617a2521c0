#include <string.h>

#include "proto/natpmp/natpmp_wire.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

pm_natpmp_status pm_natpmp_decode(const uint8_t *buf, size_t len, pm_natpmp_reply *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 8)
        return PM_NATPMP_SHORT;
    /* A PCP-capable server answers a future version with a longer reply;
     * anything beyond the PCP maximum is garbage. */
    if (len > 1100)
        return PM_NATPMP_LONG;
    if (buf[0] != 0)
        return PM_NATPMP_VERSION;
    if (!(buf[1] & 0x80) || (buf[1] & 0x7f) > 2)
        return PM_NATPMP_NOT_REPLY;
    out->opcode = buf[1] & 0x7f;
    out->result = get16(buf + 2);
    out->epoch = get32(buf + 4);
    /* RFC 6886 3.5: error replies may be just the 8-byte header. */
    if (out->result != 0)
        return PM_NATPMP_OK;
    if (out->opcode == 0) {
        if (len < 12)
            return PM_NATPMP_SHORT;
        memcpy(&out->public_addr, buf + 8, 4);
        return PM_NATPMP_OK;
    }
    if (len < 16)
        return PM_NATPMP_SHORT;
    out->internal_port = get16(buf + 8);
    out->external_port = get16(buf + 10);
    out->lifetime = get32(buf + 12);
    return PM_NATPMP_OK;
}

size_t pm_natpmp_encode_map(uint8_t buf[12], uint8_t opcode, uint16_t internal_port,
                            uint16_t external_port, uint32_t lifetime)
{
    memset(buf, 0, 12);
    buf[1] = opcode;
    if (opcode == 0)
        return 2;
    buf[4] = (uint8_t)(internal_port >> 8);
    buf[5] = (uint8_t)internal_port;
    buf[6] = (uint8_t)(external_port >> 8);
    buf[7] = (uint8_t)external_port;
    buf[8] = (uint8_t)(lifetime >> 24);
    buf[9] = (uint8_t)(lifetime >> 16);
    buf[10] = (uint8_t)(lifetime >> 8);
    buf[11] = (uint8_t)lifetime;
    return 12;
}
