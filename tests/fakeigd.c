#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakeigd.h"

#define SVC_IP "urn:schemas-upnp-org:service:WANIPConnection:"
#define SVC_PPP "urn:schemas-upnp-org:service:WANPPPConnection:1"
#define SVC_FW "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"
/* TR-064 (Broadband Forum): the same actions under another namespace */
#define TR_IP "urn:dslforum-org:service:WANIPConnection:1"

/* addr is an IPv4 or (with a colon) an IPv6 literal */
static int bound(int type, const char *addr, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    int v6 = strchr(addr, ':') != NULL;
    int one = 1, fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        inet_pton(AF_INET6, addr, &sa6.sin6_addr);
    } else {
        inet_pton(AF_INET, addr, &sa.sin_addr);
    }
    if (bind(fd, v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa,
             v6 ? sizeof(sa6) : sizeof(sa)) < 0 ||
        (type == SOCK_STREAM && listen(fd, 16) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int version(const fakeigd *g)
{
    switch (g->scenario) {
    case IGD_OK_V2: case IGD_725: case IGD_402: case IGD_CGN: case IGD_ABSOLUTE_CTL:
    case IGD_V2_FW: case IGD_SSDP_NOT_GATEWAY: case IGD_LOCATION_ELSEWHERE:
    case IGD_CONTROL_ELSEWHERE: case IGD_HUGE_DESC: case IGD_DRIP: case IGD_BAD_XML:
    case IGD_BAD_SOAP: case IGD_PPP_ONLY:
        return 2;
    default:
        return g->v6 && g->scenario != IGD6_NO_FW ? 2 : 1;
    }
}

/* A counter of g's, read under its lock */
static int counter(fakeigd *g, const int *which)
{
    int n;
    pthread_mutex_lock(&g->lock);
    n = *which;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Devices of the old kind: only a search for every root device finds them */
static int rootdevice_only(const fakeigd *g)
{
    return g->scenario == IGD_ROOTDEVICE_ONLY || g->scenario == IGD_TR064 ||
           g->scenario == IGD_TR064_AUTH;
}

/* The search's ST into st ("" when none) */
static void search_target(const char *req, char *st, size_t cap)
{
    const char *p = strstr(req, "\r\nST:");
    size_t n = 0;

    st[0] = '\0';
    if (!p)
        return;
    for (p += 5; *p == ' '; p++)
        ;
    while (n + 1 < cap && p[n] && p[n] != '\r' && p[n] != '\n')
        n++;
    memcpy(st, p, n);
    st[n] = '\0';
}

/* Whether the fake answers a search for st, and with which ST into out */
static int answers_search(const fakeigd *g, const char *st, char *out, size_t cap)
{
    int any = !strcmp(st, "ssdp:all") || !strcmp(st, "upnp:rootdevice");

    if (rootdevice_only(g)) {
        snprintf(out, cap, "upnp:rootdevice");
        return any;
    }
    snprintf(out, cap, "urn:schemas-upnp-org:device:InternetGatewayDevice:%d", version(g));
    return strstr(st, "urn:schemas-upnp-org:device:InternetGatewayDevice:") != NULL;
}

static void answer_ssdp(fakeigd *g, const char *st, const struct sockaddr *to, socklen_t to_len)
{
    char msg[512];
    int early = counter(g, &g->searches) <= 6; /* the first two rounds: 2 searches, then 4 */
    const char *loc = g->v6 ? "http://[::1]:5000/rootDesc.xml"
                      : g->scenario == IGD_LOCATION_ELSEWHERE ||
                                (g->scenario == IGD_LOCATION_LATE && early)
                          ? "http://127.0.0.2:5000/rootDesc.xml"
                      : g->scenario == IGD_TR064 || g->scenario == IGD_TR064_AUTH
                          ? "http://127.0.0.1:5000/tr64desc.xml"
                                                 : "http://127.0.0.1:5000/rootDesc.xml";
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                     "ST: %s\r\nUSN: uuid:fake::%s\r\n"
                     "EXT:\r\nSERVER: fake UPnP/1.1 fakeigd/1\r\nLOCATION: %s\r\n\r\n",
                     st, st, loc);
    int fd = g->scenario == IGD_SSDP_NOT_GATEWAY ? g->spoof_fd : g->udp_fd;
    sendto(fd, msg, (size_t)n, 0, to, to_len);
}

/* A service element; ctl as written */
#define SERVICE(type, id, ctl)                                                                  \
    "<service><serviceType>" type "</serviceType><serviceId>" id "</serviceId>"              \
    "<controlURL>" ctl "</controlURL><eventSubURL>/evt</eventSubURL>"                         \
    "<SCPDURL>/scpd.xml</SCPDURL></service>"

/* A TR-064 root device and its first service, DeviceInfo */
#define TR64_ROOT                                                                               \
    "<?xml version=\"1.0\"?><root xmlns=\"urn:dslforum-org:device-1-0\">"                     \
    "<specVersion><major>1</major><minor>0</minor></specVersion><device>"                       \
    "<deviceType>urn:dslforum-org:device:InternetGatewayDevice:1</deviceType><serviceList>"     \
    SERVICE("urn:dslforum-org:service:DeviceInfo:1", "urn:DeviceInfo-com:serviceId:DeviceInfo1", \
            "/upnp/control/deviceinfo")

/*
 * Descriptions shaped like deployed devices', written from the UPnP
 * Device Architecture and IGD specifications and the Broadband Forum's
 * TR-064: the variations that matter to a reader of them.
 */
static const char *shaped_description(const fakeigd *g)
{
    switch (g->scenario) {
    case IGD_PPP_URLBASE: /* a DSL modem: PPP, its control point behind URLBase */
        return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
               "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\n"
               " <specVersion><major>1</major><minor>0</minor></specVersion>\n"
               " <URLBase>http://127.0.0.1:5001/</URLBase>\n"
               " <device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1"
               "</deviceType><friendlyName>DSL modem</friendlyName>\n"
               "  <deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1"
               "</deviceType><serviceList>"
               SERVICE("urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
                       "urn:upnp-org:serviceId:WANCommonIFC1", "upnp/control/WANCommonIFC1")
               "</serviceList>\n   <deviceList><device><deviceType>"
               "urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>"
               SERVICE("urn:schemas-upnp-org:service:WANDSLLinkConfig:1",
                       "urn:upnp-org:serviceId:WANDSLLinkC1", "upnp/control/WANDSLLinkC1")
               SERVICE(SVC_PPP, "urn:upnp-org:serviceId:WANPPPConn1",
                       "upnp/control/WANPPPConn1")
               "</serviceList></device></deviceList></device></deviceList></device>\n"
               "</root>\n";
    case IGD_ABSOLUTE_CTL: /* every URL written whole */
        return "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
               "<specVersion><major>1</major><minor>1</minor></specVersion><device>"
               "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>"
               "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2"
               "</deviceType><deviceList><device><deviceType>"
               "urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><serviceList>"
               SERVICE(SVC_IP "2", "urn:upnp-org:serviceId:WANIPConn1",
                       "http://127.0.0.1:5000/abs/WANIPConn1")
               "</serviceList></device></deviceList></device></deviceList></device></root>";
    case IGD_NO_DECL: /* no declaration, no namespace, CRLF and indents */
        return "<root>\r\n  <specVersion>\r\n    <major>1</major>\r\n    <minor>0</minor>"
               "\r\n  </specVersion>\r\n  <device>\r\n    <deviceType>"
               "urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>\r\n"
               "    <deviceList>\r\n      <device>\r\n        <deviceType>"
               "urn:schemas-upnp-org:device:WANDevice:1</deviceType>\r\n"
               "        <deviceList>\r\n          <device>\r\n            <deviceType>"
               "urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>\r\n"
               "            <serviceList>\r\n              "
               SERVICE(SVC_IP "1", "urn:upnp-org:serviceId:WANIPConn1", "/nodecl/ctl")
               "\r\n            </serviceList>\r\n          </device>\r\n        </deviceList>"
               "\r\n      </device>\r\n    </deviceList>\r\n  </device>\r\n</root>\r\n";
    case IGD_TWO_WAN: /* a DSL port unused, the Ethernet WAN in use */
        return "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
               "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
               "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
               "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1"
               "</deviceType><serviceList>"
               SERVICE("urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
                       "urn:upnp-org:serviceId:WANCommonIFC1", "/dsl/CmnIfCfg")
               "</serviceList></device><device><deviceType>"
               "urn:schemas-upnp-org:device:WANDevice:1</deviceType><serviceList>"
               SERVICE("urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
                       "urn:upnp-org:serviceId:WANCommonIFC2", "/eth/CmnIfCfg")
               "</serviceList><deviceList><device><deviceType>"
               "urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>"
               SERVICE(SVC_IP "1", "urn:upnp-org:serviceId:WANIPConn2", "/eth/IPConn")
               "</serviceList></device></deviceList></device></deviceList></device></root>";
    case IGD_V2_FW: /* IGD v2: IPv4 mappings and IPv6 pinholes side by side */
        return "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\" "
               "configId=\"1\"><specVersion><major>1</major><minor>1</minor></specVersion>"
               "<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2"
               "</deviceType><deviceList><device><deviceType>"
               "urn:schemas-upnp-org:device:WANDevice:2</deviceType><deviceList><device>"
               "<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>"
               "<serviceList>"
               SERVICE(SVC_IP "2", "urn:upnp-org:serviceId:WANIPConn1", "/v2/IPConn")
               SERVICE(SVC_FW, "urn:upnp-org:serviceId:WANIPv6Firewall1", "/v2/IP6FCtl")
               "</serviceList></device></deviceList></device></deviceList></device></root>";
    case IGD_DSLFORUM_ONLY: /* TR-064's management services, no WAN connection */
        return TR64_ROOT
               SERVICE("urn:dslforum-org:service:LANConfigSecurity:1",
                       "urn:LANConfigSecurity-com:serviceId:LANConfigSecurity1",
                       "/upnp/control/lanconfigsecurity")
               "</serviceList></device></root>";
    case IGD_TR064: /* TR-064: the WAN connection under the Broadband Forum's names */
    case IGD_TR064_AUTH:
        return TR64_ROOT
               "</serviceList><deviceList><device><deviceType>"
               "urn:dslforum-org:device:WANDevice:1</deviceType><deviceList><device>"
               "<deviceType>urn:dslforum-org:device:WANConnectionDevice:1</deviceType>"
               "<serviceList>"
               SERVICE(TR_IP, "urn:WANIPConnection-com:serviceId:WANIPConnection1",
                       "/upnp/control/wanipconnection1")
               "</serviceList></device></deviceList></device></deviceList></device></root>";
    default:
        return NULL;
    }
}

static int description(fakeigd *g, char *out, size_t cap)
{
    const char *shaped = shaped_description(g);
    const char *svc = g->scenario == IGD_PPP_ONLY ? SVC_PPP : NULL;
    char svcbuf[80];
    const char *ctl = g->scenario == IGD_CONTROL_ELSEWHERE ? "http://127.0.0.2:5000/ctl/IPConn"
                                                           : "/ctl/IPConn";
    /* as miniupnpd lists it with IPv6 enabled: beside the WAN service */
    const char *fw = g->v6 && g->scenario != IGD6_NO_FW
                         ? "<service><serviceType>" SVC_FW "</serviceType>"
                           "<serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId>"
                           "<controlURL>/ctl/IP6FCtl</controlURL>"
                           "<eventSubURL>/evt/IP6FCtl</eventSubURL>"
                           "<SCPDURL>/WANIP6FC.xml</SCPDURL></service>"
                         : "";
    if (shaped)
        return snprintf(out, cap, "%s", shaped);
    if (!svc) {
        snprintf(svcbuf, sizeof(svcbuf), SVC_IP "%d", version(g));
        svc = svcbuf;
    }
    return snprintf(out, cap,
        "<?xml version=\"1.0\"?>\r\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:%d</deviceType>"
        "<friendlyName>fake</friendlyName><deviceList><device>"
        "<deviceType>urn:schemas-upnp-org:device:WANDevice:%d</deviceType><serviceList><service>"
        "<serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>"
        "<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>"
        "<controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL>"
        "<SCPDURL>/WANCfg.xml</SCPDURL></service></serviceList><deviceList><device>"
        "<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:%d</deviceType>"
        "<serviceList><service><serviceType>%s</serviceType>"
        "<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>%s</controlURL>"
        "<eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service>%s"
        "</serviceList></device></deviceList></device></deviceList></device></root>\r\n",
        version(g), version(g), version(g), svc, ctl, fw);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: text/xml\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Internal Server Error", strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

static void soap_ok_from(int fd, const char *service, const char *action, const char *inner)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
             "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
             "<u:%sResponse xmlns:u=\"%s\">%s</u:%sResponse></s:Body></s:Envelope>",
             action, service, inner, action);
    reply(fd, 200, body);
}

static void soap_ok(int fd, const char *action, const char *inner)
{
    soap_ok_from(fd, SVC_IP "1", action, inner);
}

static void soap_err_text(int fd, int code, const char *text)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
             "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><s:Fault>"
             "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
             "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>%d</errorCode>"
             "<errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body>"
             "</s:Envelope>", code, text);
    reply(fd, 500, body);
}

static void soap_err(int fd, int code)
{
    soap_err_text(fd, code, "fake");
}

static unsigned xml_uint(const char *body, const char *tag)
{
    char open[64];
    const char *p;
    snprintf(open, sizeof(open), "<%s>", tag);
    p = strstr(body, open);
    return p ? (unsigned)strtoul(p + strlen(open), NULL, 10) : 0;
}

static void xml_str(const char *body, const char *tag, char *out, size_t cap)
{
    char open[64];
    const char *p, *e;
    snprintf(open, sizeof(open), "<%s>", tag);
    out[0] = '\0';
    p = strstr(body, open);
    if (!p)
        return;
    p += strlen(open);
    e = strchr(p, '<');
    if (e && (size_t)(e - p) < cap) {
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = '\0';
    }
}

static void record(fakeigd *g, const fakeigd_call *call)
{
    pthread_mutex_lock(&g->lock);
    if (g->n_calls < FAKEIGD_LOG)
        g->calls[g->n_calls++] = *call;
    pthread_mutex_unlock(&g->lock);
}

/* The pinhole of id, or NULL; lock held */
static fakeigd_pinhole *pinhole_by_id(fakeigd *g, unsigned id)
{
    for (int i = 0; i < FAKEIGD_PINHOLES; i++)
        if (id && g->pinholes[i].id == id)
            return &g->pinholes[i];
    return NULL;
}

/* AddPinhole: miniupnpd answers a second one for the same client, port
 * and protocol with the id it already gave. Returns the id, 0 when full;
 * lock held. */
static unsigned add_pinhole(fakeigd *g, const char *client, unsigned port, unsigned proto)
{
    fakeigd_pinhole *free_slot = NULL;
    for (int i = 0; i < FAKEIGD_PINHOLES; i++) {
        fakeigd_pinhole *p = &g->pinholes[i];
        if (p->id && !strcmp(p->client, client) && p->port == port && p->proto == proto)
            return p->id;
        if (!p->id && !free_slot)
            free_slot = p;
    }
    if (!free_slot)
        return 0;
    snprintf(free_slot->client, sizeof(free_slot->client), "%s", client);
    free_slot->port = port;
    free_slot->proto = proto;
    free_slot->id = ++g->next_id;
    return free_slot->id;
}

static void handle_pinhole(fakeigd *g, int fd, const char *body, fakeigd_call *call)
{
    char inner[256] = "";
    const char *action = call->action;

    call->ext_port = xml_uint(body, "InternalPort");
    call->lease = xml_uint(body, strcmp(action, "UpdatePinhole") ? "LeaseTime" : "NewLeaseTime");
    call->unique_id = xml_uint(body, "UniqueID");
    xml_str(body, "InternalClient", call->client, sizeof(call->client));
    pthread_mutex_lock(&g->lock);
    if (!strcmp(action, "GetFirewallStatus")) {
        snprintf(inner, sizeof(inner), "<FirewallEnabled>%d</FirewallEnabled>"
                 "<InboundPinholeAllowed>%d</InboundPinholeAllowed>",
                 g->scenario != IGD6_FW_DISABLED, g->scenario != IGD6_NO_INBOUND);
    } else if (!strcmp(action, "AddPinhole")) {
        if (g->scenario == IGD6_606) {
            call->error = 606;
        } else {
            call->unique_id = add_pinhole(g, call->client, call->ext_port,
                                          xml_uint(body, "Protocol"));
            call->error = call->unique_id ? 0 : 701;
            snprintf(inner, sizeof(inner), "<UniqueID>%u</UniqueID>", call->unique_id);
        }
    } else if (!strcmp(action, "UpdatePinhole")) {
        if (g->scenario == IGD6_UPDATE_704 || g->scenario == IGD6_UPDATE_402) {
            /* a restart took every pinhole */
            memset(g->pinholes, 0, sizeof(g->pinholes));
            call->error = g->scenario == IGD6_UPDATE_704 ? 704 : 402;
        } else if (!pinhole_by_id(g, call->unique_id)) {
            call->error = 704;
        }
    } else if (!strcmp(action, "DeletePinhole")) {
        fakeigd_pinhole *p = pinhole_by_id(g, call->unique_id);
        if (p)
            memset(p, 0, sizeof(*p));
        else
            call->error = 704;
    } else {
        call->error = 401;
    }
    pthread_mutex_unlock(&g->lock);
    /* recorded before the answer: the client may look as soon as it has it */
    record(g, call);
    if (call->error)
        soap_err(fd, call->error);
    else
        soap_ok_from(fd, SVC_FW, action, inner);
}

static void handle_soap(fakeigd *g, int fd, const char *req, const char *body)
{
    const char *a = strstr(req, "SOAPAction:");
    char action[40] = "", inner[256];
    const char *hash = a ? strchr(a, '#') : NULL;
    fakeigd_call call = { 0 };

    if (hash)
        sscanf(hash + 1, "%39[A-Za-z]", action);
    snprintf(call.action, sizeof(call.action), "%s", action);
    sscanf(req, "POST %39s", call.path);
    if ((a = strstr(req, "\r\nHost:")) != NULL)
        sscanf(a + 7, " %39[^\r\n ]", call.host);
    a = strstr(req, "SOAPAction:");
    if (strstr(req, "POST /ctl/IP6FCtl ")) {
        handle_pinhole(g, fd, body, &call);
        return;
    }
    call.ext_port = xml_uint(body, "NewExternalPort");
    call.lease = xml_uint(body, "NewLeaseDuration");
    xml_str(body, "NewInternalClient", call.client, sizeof(call.client));
    /* a TR-064 router knows its actions by its own namespace only */
    if ((g->scenario == IGD_TR064 || g->scenario == IGD_TR064_AUTH) && (!a || !strstr(a, TR_IP "#")))
        call.error = 401;
    record(g, &call);
    if (call.error) {
        soap_err_text(fd, call.error, "Invalid Action");
        return;
    }

    if (!strcmp(action, "GetExternalIPAddress")) {
        snprintf(inner, sizeof(inner), "<NewExternalIPAddress>%s</NewExternalIPAddress>",
                 g->scenario == IGD_CGN ? "100.64.1.1"
                 : g->scenario == IGD_EXT_JUNK ? g->ext_addr : "198.51.100.7");
        soap_ok_from(fd, g->scenario == IGD_TR064 || g->scenario == IGD_TR064_AUTH ? TR_IP
                                                                                : SVC_IP "1",
                     action, inner);
        return;
    }
    if (!strcmp(action, "AddPortMapping") || !strcmp(action, "AddAnyPortMapping")) {
        int any = action[3] == 'A';
        if (g->add_silent)
            return; /* made, perhaps, but never said */
        if (g->scenario == IGD_TR064_AUTH) {
            static const char unauthorized[] =
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"SOAP-Auth\", "
                "nonce=\"1\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n";
            send_all(fd, unauthorized, strlen(unauthorized));
            return;
        }
        if (g->scenario == IGD_BAD_SOAP) {
            reply(fd, 200, "<<<this is not < xml");
            return;
        }
        if ((g->scenario == IGD_725 || g->scenario == IGD_402) && call.lease != 0) {
            soap_err(fd, g->scenario == IGD_725 ? 725 : 402);
            return;
        }
        if (g->scenario == IGD_718 && call.ext_port == g->taken_port) {
            soap_err(fd, 718);
            return;
        }
        /* what some routers say of a port another host holds */
        if (g->scenario == IGD_501 && call.ext_port == g->taken_port) {
            soap_err_text(fd, 501, "Action Failed");
            return;
        }
        if (g->scenario == IGD_501_ALWAYS) {
            soap_err_text(fd, 501, "WAN connection is not up");
            return;
        }
        if (g->scenario == IGD_724 && call.ext_port != xml_uint(body, "NewInternalPort")) {
            soap_err(fd, 724);
            return;
        }
        if (any) {
            snprintf(inner, sizeof(inner), "<NewReservedPort>%u</NewReservedPort>", call.ext_port + 1);
            soap_ok(fd, action, inner);
        } else {
            soap_ok(fd, action, "");
        }
        return;
    }
    if (!strcmp(action, "GetSpecificPortMappingEntry") && g->lost) {
        soap_err(fd, 714); /* the router lost our entry */
        return;
    }
    if (!strcmp(action, "GetSpecificPortMappingEntry") &&
        (g->scenario == IGD_501 || g->scenario == IGD_501_ALWAYS)) {
        if (g->scenario == IGD_501 && call.ext_port == g->taken_port) {
            soap_ok(fd, action, "<NewInternalClient>192.168.1.23</NewInternalClient>");
            return;
        }
        soap_err_text(fd, 714, "NoSuchEntryInArray");
        return;
    }
    if (!strcmp(action, "DeletePortMapping") || !strcmp(action, "GetSpecificPortMappingEntry")) {
        snprintf(inner, sizeof(inner), "<NewInternalClient>%s</NewInternalClient>",
                 g->owner[0] ? g->owner : "127.0.0.1");
        soap_ok(fd, action, action[0] == 'G' ? inner : "");
        return;
    }
    soap_err(fd, 401);
}

static void *drip(void *arg)
{
    int fd = (int)(intptr_t)arg;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
    send_all(fd, head, strlen(head));
    for (int i = 0; i < 200; i++) { /* 1 byte every 100 ms, at most 20 s */
        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
            break;
        usleep(100000);
    }
    close(fd);
    return NULL;
}

static void serve_http(fakeigd *g, int fd)
{
    char req[8192];
    size_t len = 0;
    char *body = NULL;

    /* read headers and a Content-Length body, bounded */
    while (len < sizeof(req) - 1) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, 2000) <= 0)
            break;
        n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        body = strstr(req, "\r\n\r\n");
        if (body) {
            const char *cl = strstr(req, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (strlen(body + 4) >= want)
                break;
        }
    }
    req[len] = '\0';
    pthread_mutex_lock(&g->lock);
    g->http_requests++;
    pthread_mutex_unlock(&g->lock);
    if (!strncmp(req, "GET ", 4)) {
        pthread_mutex_lock(&g->lock);
        g->desc_fetches++;
        pthread_mutex_unlock(&g->lock);
        if (g->scenario == IGD_DRIP) {
            pthread_t th;
            g->drip_threads++;
            pthread_create(&th, NULL, drip, (void *)(intptr_t)fd);
            pthread_detach(th);
            return;
        }
        if (g->scenario == IGD_HUGE_DESC) {
            char head[128];
            size_t size = 3 * 1024 * 1024;
            char *junk = malloc(65536);
            memset(junk, ' ', 65536);
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
            send_all(fd, head, strlen(head));
            for (size_t s = 0; s < size; s += 65536) /* stops when the client hangs up */
                send_all(fd, junk, 65536);
            free(junk);
        } else if (g->scenario == IGD_BAD_XML) {
            reply(fd, 200, "<root><device><serviceList><service><serviceType>urn:sch");
        } else {
            char d[8192];
            description(g, d, sizeof(d));
            reply(fd, 200, d);
        }
    } else if (body) {
        handle_soap(g, fd, req, body + 4);
    }
    close(fd);
}

static void *serve(void *arg)
{
    fakeigd *g = arg;
    struct pollfd p[5] = { { .fd = g->udp_fd, .events = POLLIN }, { .fd = g->tcp_fd, .events = POLLIN },
                           { .fd = g->stop_fd, .events = POLLIN }, { .fd = g->tcp2_fd, .events = POLLIN },
                           { .fd = g->tcp3_fd, .events = POLLIN } };

    while (poll(p, 5, 30000) > 0 && !p[2].revents) {
        if (p[3].revents) { /* the host that is not the gateway: count, serve */
            int fd = accept(g->tcp2_fd, NULL, NULL);
            if (fd >= 0)
                serve_http(g, fd);
        }
        if (p[4].revents) { /* the gateway's other port (a URLBase) */
            int fd = accept(g->tcp3_fd, NULL, NULL);
            if (fd >= 0)
                serve_http(g, fd);
        }
        if (p[0].revents) {
            char buf[1024];
            struct sockaddr_storage from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(g->udp_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
            if (n > 0) {
                char st[128], ans[128];
                buf[n] = '\0';
                search_target(buf, st, sizeof(st));
                pthread_mutex_lock(&g->lock);
                g->searches += strstr(buf, "M-SEARCH") != NULL;
                pthread_mutex_unlock(&g->lock);
                if (strstr(buf, "M-SEARCH") && answers_search(g, st, ans, sizeof(ans)))
                    answer_ssdp(g, ans, (struct sockaddr *)&from, fl);
            }
        }
        if (p[1].revents) {
            int fd = accept(g->tcp_fd, NULL, NULL);
            if (fd >= 0)
                serve_http(g, fd);
        }
    }
    return NULL;
}

int fakeigd_start(fakeigd *g, int scenario)
{
    memset(g, 0, sizeof(*g));
    g->scenario = scenario;
    g->taken_port = 7100;
    pthread_mutex_init(&g->lock, NULL);
    g->udp_fd = bound(SOCK_DGRAM, "127.0.0.1", 1900);
    g->spoof_fd = bound(SOCK_DGRAM, "127.0.0.2", 1900);
    g->tcp_fd = bound(SOCK_STREAM, "127.0.0.1", 5000);
    g->tcp2_fd = bound(SOCK_STREAM, "127.0.0.2", 5000);
    g->tcp3_fd = bound(SOCK_STREAM, "127.0.0.1", 5001);
    g->stop_fd = eventfd(0, 0);
    if (g->udp_fd < 0 || g->spoof_fd < 0 || g->tcp_fd < 0 || g->tcp2_fd < 0 || g->tcp3_fd < 0 ||
        g->stop_fd < 0)
        return -1;
    return pthread_create(&g->th, NULL, serve, g);
}

int fakeigd_start6(fakeigd *g, int scenario)
{
    memset(g, 0, sizeof(*g));
    g->scenario = scenario;
    g->v6 = 1;
    pthread_mutex_init(&g->lock, NULL);
    g->udp_fd = bound(SOCK_DGRAM, "::1", 1900);
    g->tcp_fd = bound(SOCK_STREAM, "::1", 5000);
    g->spoof_fd = g->tcp2_fd = g->tcp3_fd = -1; /* poll() skips them */
    g->stop_fd = eventfd(0, 0);
    if (g->udp_fd < 0 || g->tcp_fd < 0 || g->stop_fd < 0)
        return -1;
    return pthread_create(&g->th, NULL, serve, g);
}

void fakeigd_stop(fakeigd *g)
{
    uint64_t one = 1;
    if (write(g->stop_fd, &one, sizeof(one)) == sizeof(one))
        pthread_join(g->th, NULL);
    close(g->udp_fd);
    if (g->spoof_fd >= 0)
        close(g->spoof_fd);
    close(g->tcp_fd);
    if (g->tcp2_fd >= 0)
        close(g->tcp2_fd);
    if (g->tcp3_fd >= 0)
        close(g->tcp3_fd);
    close(g->stop_fd);
}

int fakeigd_count(fakeigd *g, const char *action)
{
    int n = 0;
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < g->n_calls; i++)
        n += strcmp(g->calls[i].action, action) == 0;
    pthread_mutex_unlock(&g->lock);
    return n;
}

int fakeigd_http_requests(fakeigd *g)
{
    return counter(g, &g->http_requests);
}

int fakeigd_desc_fetches(fakeigd *g)
{
    return counter(g, &g->desc_fetches);
}

int fakeigd_call_get(fakeigd *g, const char *action, int n, fakeigd_call *out)
{
    int rc = -1;
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < g->n_calls && rc != 0; i++)
        if (!strcmp(g->calls[i].action, action) && n-- == 0) {
            *out = g->calls[i];
            rc = 0;
        }
    pthread_mutex_unlock(&g->lock);
    return rc;
}
