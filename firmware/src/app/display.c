/* The card on the display: which one, until when (ttl), and rendering it into the framebuffer. */
#include <string.h>

#include "app_internal.h"
#include "card.h"
#include "hal_display.h"

static void flush(void) { hal_display_flush(gb_app.fb.px, (uint16_t)GB_FB_W, (uint16_t)GB_FB_H); }

void gb_display_init(void) {
  gb_fb_clear(&gb_app.fb);
  gb_app.card_id = 0;
  gb_app.card_ttl = false;
  flush();
}

void gb_display_show(const gb_DisplayCard *c, uint32_t now) {
  gb_card_render(&gb_app.fb, (uint32_t)c->kind, (uint32_t)c->icon, c->title, c->text);
  gb_app.card_id = c->card_id;
  gb_peer_info soc; /* the card belongs to the SoC session that sent it (dispatch.c orders ids per session) */
  gb_app.card_session = gb_link_get_peer(gb_app.link, &soc) ? soc.session : 0u;
  gb_app.card_ttl = c->ttl_ms != 0;
  gb_app.card_expires = now + c->ttl_ms;
  flush();
}

void gb_display_clear(void) {
  gb_fb_clear(&gb_app.fb);
  gb_app.card_id = 0;
  gb_app.card_ttl = false;
  flush();
}

void gb_display_poll(uint32_t now) {
  if (gb_app.card_ttl && (int32_t)(now - gb_app.card_expires) >= 0) gb_display_clear();
}

uint32_t gb_display_deadline(uint32_t now) { return gb_app.card_ttl ? gb_app.card_expires : now + 60000u; }
