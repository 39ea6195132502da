/* gb-fw-client: a minimal SoC-side peer for smoke tests. Connects to a firmware UART exposed as a unix socket
 * (the host port, or QEMU's `-chardev socket`), runs the link engine as the SoC, and performs one action:
 *   gb-fw-client SOCKET status              handshake, StatusRequest, print the Status
 *   gb-fw-client SOCKET transfer BYTES      handshake, a bulk transfer of BYTES pseudo-random bytes; expects
 *                                           VERIFIED (the firmware recomputed the SHA-256)
 *   gb-fw-client SOCKET events MS [COUNT]   print every event message for MS milliseconds (or until COUNT
 *                                           events), one line each:
 *                                           "button B A at=T", "gesture G confidence=C", "battery P L charging"
 *   gb-fw-client SOCKET card ID KIND ICON TITLE TEXT [TTL_MS]   show a card; prints the Result code
 *   gb-fw-client SOCKET cards ID[:TTL_MS]...  several text cards in ONE link session (titled "card ID"), in
 *                                           order; one "result code=C message=M" line each
 *   gb-fw-client SOCKET camera on|off       prints "camera powered=P led=L"
 *   gb-fw-client SOCKET speaker FRAMES      sends FRAMES speaker frames of 320 samples, sample i = (i*7) mod 4001 - 2000
 *   gb-fw-client SOCKET raw HEX             sends HEX as one Message on channel 1; prints the answer
 *                                           "reply request_id=R body=B code=C message=M"
 *   gb-fw-client SOCKET mic FRAMES          streams FRAMES microphone frames; prints one line per frame
 *                                           "mic stream=S first=N samples=K gap=G sum=X" (X: sum of samples)
 * Exit 0 on success, 1 with a message naming what did not arrive. --timeout MS bounds the whole run. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "glassbridge/link.h"
#include "glassbridge/messages.h"
#include "sha256.h"

static uint32_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)(ts.tv_sec * 1000u + ts.tv_nsec / 1000000u);
}

static int fd = -1;
static gb_link *link_;
static gb_link_config cfg;
static uint64_t arena[(256u * 1024u) / 8u];
static uint8_t wire[8192];
static gb_Message msg;

static int connect_to(const char *path, uint32_t deadline) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  while ((int32_t)(deadline - now_ms()) > 0) {
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return 0;
    close(fd);
    fd = -1;
    usleep(20000);
  }
  fprintf(stderr, "gb-fw-client: cannot connect to %s: %s\n", path, strerror(errno));
  return -1;
}

static int send_msg(const gb_Message *m, uint8_t ch) {
  static uint8_t buf[2048];
  size_t len;
  gb_pb_status err;
  if (!gb_Message_encode(m, buf, sizeof buf, &len, &err)) return -1;
  return gb_link_send(link_, ch, buf, len, now_ms()) == GB_OK ? 0 : -1;
}

/* Events the firmware sends on its own, one line each (read by tests/firmware); `events` stops after
 * events_wanted of them (-1 = no limit). */
static int events_wanted = -1;

static void print_event(const gb_Message *m) {
  switch (m->which_body) {
    case GB_MESSAGE_BUTTON_TAG:
      printf("button %d %d at=%u\n", (int)m->body.button.button, (int)m->body.button.action,
             (unsigned)m->body.button.at_ms);
      break;
    case GB_MESSAGE_GESTURE_TAG:
      printf("gesture %d confidence=%u\n", (int)m->body.gesture.gesture, (unsigned)m->body.gesture.confidence_pct);
      break;
    case GB_MESSAGE_BATTERY_TAG:
      printf("battery %u %d %d\n", (unsigned)m->body.battery.battery.percent, (int)m->body.battery.battery.level,
             m->body.battery.battery.charging);
      break;
    default: return;
  }
  if (events_wanted > 0) events_wanted--;
  fflush(stdout);
}

/* Runs the engine until a message matching `want_body` (0 = link up) arrives or the deadline passes. */
static int pump(uint32_t want_body, uint32_t deadline, gb_Message *out) {
  for (;;) {
    uint32_t now = now_ms();
    size_t n;
    while ((n = gb_link_poll_tx(link_, wire, sizeof wire, now)) > 0)
      if (write(fd, wire, n) != (ssize_t)n) return -1;
    gb_event ev;
    while (gb_link_poll_event(link_, &ev)) {
      if (ev.type == GB_EV_LINK_UP && want_body == 0) return 0;
      if (ev.type == GB_EV_VERSION_MISMATCH) {
        fprintf(stderr, "gb-fw-client: version mismatch with the firmware\n");
        return -1;
      }
      if (ev.type == GB_EV_MESSAGE) {
        gb_pb_status err;
        if (!gb_Message_decode(ev.data, ev.len, out, &err)) continue;
        if (out->which_body == want_body) return 0;
        if (want_body == 0xFFFE && (out->which_body == GB_MESSAGE_CAMERA_STATE_TAG ||
                                    out->which_body == GB_MESSAGE_RESULT_TAG)) return 0;
        print_event(out);
        if (events_wanted == 0) return -1;
      }
    }
    if ((int32_t)(deadline - now) <= 0) return -1;
    uint32_t d = gb_link_next_deadline(link_, now);
    int wait = (int32_t)(d - now) < 0 ? 0 : (int)(d - now);
    if (wait > (int)(deadline - now)) wait = (int)(deadline - now);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, wait) > 0) {
      uint8_t buf[4096];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        fprintf(stderr, "gb-fw-client: the firmware closed the connection\n");
        return -1;
      }
      gb_link_receive(link_, buf, (size_t)r, now_ms());
    }
  }
}

int main(int argc, char **argv) {
  uint32_t timeout = 10000;
  int ai = 1;
  if (argc > 2 && strcmp(argv[1], "--timeout") == 0) timeout = (uint32_t)atoi(argv[2]), ai = 3;
  if (argc - ai < 2) {
    fprintf(stderr, "usage: gb-fw-client [--timeout MS] SOCKET status|transfer BYTES\n");
    return 2;
  }
  const char *path = argv[ai], *cmd = argv[ai + 1];
  uint32_t deadline = now_ms() + timeout;
  if (connect_to(path, deadline) != 0) return 1;

  cfg.profile = GB_PROFILE_UART;
  cfg.role = GB_ROLE_SOC;
  cfg.session = (uint32_t)getpid() * 2654435761u | 1u;
  cfg.max_frame = 1024;
  cfg.window = 16;
  cfg.max_message = 4096;
  cfg.tx_queue_bytes = 65536;
  gb_status st = gb_link_config_normalize(&cfg);
  link_ = st == GB_OK ? gb_link_init(&cfg, arena, sizeof arena, now_ms(), &st) : NULL;
  if (!link_) {
    fprintf(stderr, "gb-fw-client: link engine init failed: %s\n", gb_status_str(st));
    return 1;
  }
  if (pump(0, deadline, &msg) != 0) {
    fprintf(stderr, "gb-fw-client: no handshake with the firmware within %u ms\n", (unsigned)timeout);
    return 1;
  }
  gb_peer_info peer;
  gb_link_get_peer(link_, &peer);
  printf("link up: firmware %s boot_counter %u capabilities 0x%x\n", peer.firmware_version,
         (unsigned)peer.boot_counter, (unsigned)peer.capabilities);

  if (strcmp(cmd, "status") == 0) {
    memset(&msg, 0, sizeof msg);
    msg.request_id = 1;
    msg.which_body = GB_MESSAGE_STATUS_REQUEST_TAG;
    if (send_msg(&msg, 1) != 0 || pump(GB_MESSAGE_STATUS_TAG, deadline, &msg) != 0) {
      fprintf(stderr, "gb-fw-client: no Status answer within %u ms\n", (unsigned)timeout);
      return 1;
    }
    const gb_Status *s = &msg.body.status;
    printf("status: board=%s firmware=%s boot_counter=%u uptime_ms=%u battery=%u%% capabilities=0x%x "
           "request_id=%u\n", s->board, s->firmware_version, (unsigned)s->boot_counter, (unsigned)s->uptime_ms,
           (unsigned)s->battery.percent, (unsigned)s->capabilities, (unsigned)msg.request_id);
    return msg.request_id == 1 ? 0 : 1;
  }
  if (strcmp(cmd, "transfer") == 0 && argc - ai >= 3) {
    uint32_t size = (uint32_t)strtoul(argv[ai + 2], NULL, 10);
    uint8_t *data = malloc(size ? size : 1);
    uint32_t x = 12345;
    for (uint32_t i = 0; i < size; i++) x = x * 1664525u + 1013904223u, data[i] = (uint8_t)(x >> 24);
    gb_sha256 h;
    gb_sha256_init(&h);
    gb_sha256_update(&h, data, size);
    memset(&msg, 0, sizeof msg);
    msg.request_id = 2;
    msg.which_body = GB_MESSAGE_TRANSFER_BEGIN_TAG;
    msg.body.transfer_begin.transfer_id = 42;
    msg.body.transfer_begin.kind = GB_TRANSFER_KIND_FIRMWARE;
    msg.body.transfer_begin.size = size;
    uint8_t digest[32];
    gb_sha256_final(&h, digest);
    memcpy(msg.body.transfer_begin.sha256.bytes, digest, 32);
    msg.body.transfer_begin.sha256.size = 32;
    if (send_msg(&msg, 3) != 0 || pump(GB_MESSAGE_TRANSFER_STATUS_TAG, deadline, &msg) != 0) {
      fprintf(stderr, "gb-fw-client: no TransferStatus for TransferBegin\n");
      return 1;
    }
    uint32_t off = msg.body.transfer_status.offset;
    uint32_t t0 = now_ms();
    while (off < size) {
      uint32_t n = size - off < 960u ? size - off : 960u;
      memset(&msg, 0, sizeof msg);
      msg.which_body = GB_MESSAGE_TRANSFER_CHUNK_TAG;
      msg.body.transfer_chunk.transfer_id = 42;
      msg.body.transfer_chunk.offset = off;
      msg.body.transfer_chunk.data.size = (uint16_t)n;
      memcpy(msg.body.transfer_chunk.data.bytes, data + off, n);
      while (send_msg(&msg, 3) != 0) { /* queue full: let acknowledgements make room */
        gb_Message dummy;
        pump(0xFFFF, now_ms() + 5, &dummy);
        if ((int32_t)(deadline - now_ms()) <= 0) {
          fprintf(stderr, "gb-fw-client: transfer stalled at offset %u\n", (unsigned)off);
          return 1;
        }
      }
      off += n;
    }
    for (;;) {
      if (pump(GB_MESSAGE_TRANSFER_STATUS_TAG, deadline, &msg) != 0) {
        fprintf(stderr, "gb-fw-client: no final TransferStatus\n");
        return 1;
      }
      if (msg.body.transfer_status.state != GB_TRANSFER_STATE_RECEIVING) break;
    }
    uint32_t ms = now_ms() - t0;
    printf("transfer: %u bytes state=%d offset=%u error=%d in %u ms sha256=", (unsigned)size,
           (int)msg.body.transfer_status.state, (unsigned)msg.body.transfer_status.offset,
           (int)msg.body.transfer_status.error, (unsigned)ms);
    for (int i = 0; i < 32; i++) printf("%02x", digest[i]);
    gb_link_stats ls;
    gb_link_get_stats(link_, &ls);
    printf(" retransmits=%u data_frames_tx=%u srtt_ms=%u rto_ms=%u\n", (unsigned)ls.retransmits,
           (unsigned)ls.data_frames_tx, (unsigned)ls.srtt_ms, (unsigned)ls.rto_ms);
    free(data);
    return msg.body.transfer_status.state == GB_TRANSFER_STATE_VERIFIED ? 0 : 1;
  }

  if (strcmp(cmd, "events") == 0 && argc - ai >= 3) {
    uint32_t until = now_ms() + (uint32_t)atoi(argv[ai + 2]);
    events_wanted = argc - ai >= 4 ? atoi(argv[ai + 3]) : -1;
    for (;;) {
      if (events_wanted == 0) return 0;
      if (pump(0xFFFF, until, &msg) != 0 && (int32_t)(until - now_ms()) <= 0) return 0;
    }
  }
  if (strcmp(cmd, "card") == 0 && argc - ai >= 7) {
    memset(&msg, 0, sizeof msg);
    msg.request_id = 3;
    msg.which_body = GB_MESSAGE_CARD_TAG;
    gb_DisplayCard *c = &msg.body.card;
    c->card_id = (uint32_t)strtoul(argv[ai + 2], NULL, 10);
    c->kind = (gb_CardKind)atoi(argv[ai + 3]);
    c->icon = (gb_Icon)atoi(argv[ai + 4]);
    snprintf(c->title, sizeof c->title, "%s", argv[ai + 5]);
    snprintf(c->text, sizeof c->text, "%s", argv[ai + 6]);
    if (argc - ai >= 8) c->ttl_ms = (uint32_t)strtoul(argv[ai + 7], NULL, 10);
    if (send_msg(&msg, 1) != 0 || pump(GB_MESSAGE_RESULT_TAG, deadline, &msg) != 0) {
      fprintf(stderr, "gb-fw-client: no Result for DisplayCard\n");
      return 1;
    }
    printf("result code=%d message=%s\n", (int)msg.body.result.code, msg.body.result.message);
    return 0;
  }
  if (strcmp(cmd, "cards") == 0 && argc - ai >= 3) {
    for (int k = ai + 2; k < argc; k++) {
      char *end;
      memset(&msg, 0, sizeof msg);
      msg.request_id = (uint32_t)(100 + k);
      msg.which_body = GB_MESSAGE_CARD_TAG;
      gb_DisplayCard *c = &msg.body.card;
      c->card_id = (uint32_t)strtoul(argv[k], &end, 10);
      if (*end == ':') c->ttl_ms = (uint32_t)strtoul(end + 1, NULL, 10);
      c->kind = GB_CARD_KIND_TEXT;
      snprintf(c->title, sizeof c->title, "card %lu", (unsigned long)c->card_id);
      if (send_msg(&msg, 1) != 0 || pump(GB_MESSAGE_RESULT_TAG, deadline, &msg) != 0) {
        fprintf(stderr, "gb-fw-client: no Result for DisplayCard %s\n", argv[k]);
        return 1;
      }
      printf("result code=%d message=%s\n", (int)msg.body.result.code, msg.body.result.message);
    }
    return 0;
  }
  if (strcmp(cmd, "camera") == 0 && argc - ai >= 3) {
    memset(&msg, 0, sizeof msg);
    msg.request_id = 4;
    msg.which_body = GB_MESSAGE_CAMERA_POWER_TAG;
    msg.body.camera_power.on = strcmp(argv[ai + 2], "on") == 0;
    if (send_msg(&msg, 1) != 0) return 1;
    for (;;) {
      if (pump(0xFFFE, deadline, &msg) != 0) {
        fprintf(stderr, "gb-fw-client: no answer to CameraPower\n");
        return 1;
      }
      if (msg.request_id != 4) continue;
      if (msg.which_body == GB_MESSAGE_CAMERA_STATE_TAG) {
        printf("camera powered=%d led=%d\n", msg.body.camera_state.powered, msg.body.camera_state.capture_led);
        return 0;
      }
      printf("result code=%d message=%s\n", (int)msg.body.result.code, msg.body.result.message);
      return 0;
    }
  }

  if (strcmp(cmd, "speaker") == 0 && argc - ai >= 3) {
    int frames = atoi(argv[ai + 2]);
    uint32_t n = 0;
    for (int f = 0; f < frames; f++) {
      memset(&msg, 0, sizeof msg);
      msg.which_body = GB_MESSAGE_SPEAKER_AUDIO_TAG;
      gb_AudioFrame *a = &msg.body.speaker_audio;
      a->sample_rate = 16000;
      a->first_sample = n;
      a->stream_id = 1;
      a->pcm.size = 640;
      for (int i = 0; i < 320; i++, n++) {
        int16_t v = (int16_t)((n * 7u) % 4001u) - 2000;
        a->pcm.bytes[2 * i] = (uint8_t)((uint16_t)v & 0xFFu);
        a->pcm.bytes[2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
      }
      while (send_msg(&msg, 2) != 0) {
        gb_Message dummy;
        pump(0xFFFF, now_ms() + 5, &dummy);
        if ((int32_t)(deadline - now_ms()) <= 0) return 1;
      }
    }
    /* Wait until the firmware acknowledged everything. */
    while (gb_link_tx_pending(link_) > 0) {
      gb_Message dummy;
      pump(0xFFFF, now_ms() + 5, &dummy);
      if ((int32_t)(deadline - now_ms()) <= 0) {
        fprintf(stderr, "gb-fw-client: speaker frames not acknowledged\n");
        return 1;
      }
    }
    printf("speaker frames=%d samples=%u\n", frames, (unsigned)n);
    return 0;
  }
  if (strcmp(cmd, "raw") == 0 && argc - ai >= 3) {
    static uint8_t raw[2048];
    const char *hex = argv[ai + 2];
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n && i < sizeof raw; i++) {
      unsigned v;
      sscanf(hex + 2 * i, "%2x", &v);
      raw[i] = (uint8_t)v;
    }
    if (gb_link_send(link_, 1, raw, n, now_ms()) != GB_OK) return 1;
    for (;;) {
      if (pump(0xFFFE, deadline, &msg) != 0) {
        fprintf(stderr, "gb-fw-client: no answer to the raw message\n");
        return 1;
      }
      printf("reply request_id=%u body=%u code=%d message=%s\n", (unsigned)msg.request_id,
             (unsigned)msg.which_body, (int)msg.body.result.code, msg.body.result.message);
      return 0;
    }
  }
  if (strcmp(cmd, "mic") == 0 && argc - ai >= 3) {
    int frames = atoi(argv[ai + 2]);
    memset(&msg, 0, sizeof msg);
    msg.request_id = 5;
    msg.which_body = GB_MESSAGE_MIC_CONTROL_TAG;
    msg.body.mic_control.stream = true;
    if (send_msg(&msg, 1) != 0) return 1;
    for (int got = 0; got < frames;) {
      if (pump(GB_MESSAGE_MIC_AUDIO_TAG, deadline, &msg) != 0) {
        fprintf(stderr, "gb-fw-client: only %d of %d microphone frames arrived\n", got, frames);
        return 1;
      }
      const gb_AudioFrame *a = &msg.body.mic_audio;
      long sum = 0;
      for (unsigned i = 0; i + 1 < a->pcm.size; i += 2) sum += (int16_t)(a->pcm.bytes[i] | a->pcm.bytes[i + 1] << 8);
      printf("mic stream=%u first=%llu samples=%u gap=%d sum=%ld\n", (unsigned)a->stream_id,
             (unsigned long long)a->first_sample, (unsigned)(a->pcm.size / 2), a->gap_before, sum);
      got++;
    }
    memset(&msg, 0, sizeof msg);
    msg.request_id = 6;
    msg.which_body = GB_MESSAGE_MIC_CONTROL_TAG;
    send_msg(&msg, 1);
    pump(GB_MESSAGE_RESULT_TAG, deadline, &msg);
    return 0;
  }
  fprintf(stderr, "gb-fw-client: unknown command '%s'\n", cmd);
  return 2;
}
