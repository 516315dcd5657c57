import type { Message } from '@sendjay/client';
import { useState } from 'preact/hooks';
import { t } from '../i18n.ts';

/** The emoji offered by "React": the common ones; any other comes from another member's reaction chip. */
const OFFERED = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];

/**
 * Under a message: one chip per emoji with its count (pressed when the user reacted; a click adds or takes back the
 * user's reaction; hovering names who reacted), and, while `offering` (the row's "React" action), a few emoji to
 * react with. Nothing at all when there are no reactions and nothing is offered.
 */
export function ReactionBar(props: {
  message: Message;
  offering: boolean;
  onOffered: () => void;
  onReact: (emoji: string, on: boolean) => void;
  whoReacted: (emoji: string) => Promise<string>;
}) {
  const { message: m, offering } = props;
  const [names, setNames] = useState<Record<string, string>>({});
  const reactions = m.reactions ?? [];
  if (reactions.length === 0 && !offering) return null;
  const named = (emoji: string) => {
    if (names[emoji] !== undefined) return;
    props.whoReacted(emoji).then(
      (who) => setNames((n) => ({ ...n, [emoji]: who })),
      () => undefined, // the tooltip stays without names; the chip still works
    );
  };
  return (
    <div class="reactions">
      {reactions.map((r) => (
        <button
          key={r.emoji}
          type="button"
          class={`reaction${r.mine ? ' mine' : ''}`}
          aria-pressed={r.mine}
          aria-label={t.reactionLabel(r.emoji, r.count)}
          title={names[r.emoji] ?? t.reactionLabel(r.emoji, r.count)}
          onMouseEnter={() => named(r.emoji)}
          onFocus={() => named(r.emoji)}
          onClick={() => props.onReact(r.emoji, !r.mine)}
        >
          {r.emoji} {r.count}
        </button>
      ))}
      {offering && (
        <span class="reaction-offer" role="group" aria-label={t.react}>
          {OFFERED.map((emoji) => (
            <button
              key={emoji}
              type="button"
              class="reaction-choice"
              aria-label={t.reactWith(emoji)}
              onClick={() => {
                props.onOffered();
                props.onReact(emoji, !reactions.some((r) => r.emoji === emoji && r.mine));
              }}
            >
              {emoji}
            </button>
          ))}
        </span>
      )}
    </div>
  );
}
