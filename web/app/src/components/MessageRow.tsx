import type { Message } from '@sendjay/client';
import { useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { shortTime, systemText } from '../message-text.ts';
import { FileAttachment } from './FileAttachment.tsx';
import { ImageThumbnail } from './ImageThumbnail.tsx';
import { MessageEditor } from './MessageEditor.tsx';
import { ReactionBar } from './ReactionBar.tsx';
import type { RowActions } from './MessageList.tsx';

/** One message: a system line, or a bubble with sender, quote, text, time, "not read by N" and its actions. */
export function MessageRow(props: { message: Message; showSender: boolean; actions: RowActions }) {
  const { message: m, actions } = props;
  const [editing, setEditing] = useState(false);
  const [offering, setOffering] = useState(false);
  if (m.kind === 'system') {
    return <p class="message system">{systemText(m)}</p>;
  }
  const own = m.sender_id === actions.selfId;
  const mentionsMe = !own && (m.mentions ?? []).includes(actions.selfId);
  const unread = actions.unreadOf(m.seq);
  return (
    <article
      class={`message${own ? ' own' : ''}${mentionsMe ? ' mentions-me' : ''}`}
      aria-label={`${m.sender_id} ${shortTime(m.created_at_ms)}${mentionsMe ? ` · ${t.mentionsYou}` : ''}`}
      data-client-msg-id={m.client_msg_id}
    >
      {props.showSender && !own && <p class="sender">{m.sender_id}</p>}
      <div class="bubble">
        {m.reply_to !== null && (
          <blockquote class="quote">
            <span class="quote-sender">{m.reply_to.sender_id}</span> {m.reply_to.revoked ? t.revokedMessage : m.reply_to.preview}
          </blockquote>
        )}
        {m.forwarded && <p class="forwarded">↪ {t.forwarded}</p>}
        {!m.revoked && m.file !== null && (m.kind === 'image' || (m.kind === 'file_link' && m.file.width != null) ? <ImageThumbnail client={actions.client} file={m.file} /> : <FileAttachment client={actions.client} file={m.file} />)}
        {editing && !m.revoked ? (
          <MessageEditor body={m.body} captionOnly={m.kind !== 'text'} onSave={(body) => actions.onEdit(m, body).then(() => setEditing(false))} onCancel={() => setEditing(false)} />
        ) : (
          (m.revoked || m.file === null || m.body !== '') && <p class={m.revoked ? 'body revoked' : 'body'}>{m.revoked ? t.revokedMessage : m.body}</p>
        )}
      </div>
      {!m.revoked && (
        <ReactionBar
          message={m}
          offering={offering}
          onOffered={() => setOffering(false)}
          onReact={(emoji, on) => actions.onReact(m, emoji, on)}
          whoReacted={(emoji) => actions.whoReacted(m, emoji)}
        />
      )}
      <p class="meta">
        {unread !== undefined && unread > 0 && (
          <button type="button" class="unread-count" aria-label={t.notReadByLabel(unread)} onClick={() => actions.onShowUnread(m)}>
            {t.notReadBy(unread)}
          </button>
        )}
        <time dateTime={new Date(m.created_at_ms).toISOString()}>{shortTime(m.created_at_ms)}</time>
        {!m.revoked && m.edited_at_ms != null && (
          <span class="edited" title={t.editedAt(shortTime(m.edited_at_ms))}>
            {t.edited}
          </span>
        )}
        {!m.revoked && (
          <span class="row-actions">
            <button type="button" class="link" aria-expanded={offering} onClick={() => setOffering(!offering)}>
              {t.react}
            </button>
            <button type="button" class="link" onClick={() => actions.onReply(m)}>
              {t.reply}
            </button>
            <button type="button" class="link" onClick={() => actions.onForward(m)}>
              {t.forward}
            </button>
            {own && (
              <button type="button" class="link" onClick={() => setEditing(true)}>
                {t.editMessage}
              </button>
            )}
            {own && (
              <button type="button" class="link" onClick={() => actions.onRevoke(m)}>
                {t.revoke}
              </button>
            )}
            <button type="button" class="link" aria-pressed={actions.isSaved(m)} onClick={() => actions.onToggleSave(m)}>
              {actions.isSaved(m) ? `★ ${t.unsaveMessage}` : `☆ ${t.saveMessage}`}
            </button>
            <button type="button" class="link" aria-pressed={actions.isPinned(m)} onClick={() => actions.onTogglePin(m)}>
              {actions.isPinned(m) ? t.unpinMessage : t.pinMessage}
            </button>
            <button type="button" class="link" onClick={() => actions.onDelete(m)}>
              {t.deleteForMe}
            </button>
          </span>
        )}
      </p>
    </article>
  );
}
