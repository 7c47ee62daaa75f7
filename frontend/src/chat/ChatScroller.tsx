import { ActionIcon, Box } from '@mantine/core';
import { IconArrowDown } from '@tabler/icons-react';
import { useEffect, useRef, useState, type ReactNode } from 'react';

import classes from './chat.module.css';

/** How close to the end still counts as "at the bottom" (a line's height, give or take). */
const BOTTOM_SLACK_PX = 48;

/**
 * The scrolling conversation above the composer. While the reader is at the bottom it follows new content
 * (a streaming answer grows in place); once they scroll up it stays put and offers a way back.
 */
export function ChatScroller({ children, footer }: { children: ReactNode; footer: ReactNode }) {
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const [atBottom, setAtBottom] = useState(true);

  useEffect(() => {
    const element = scroller.current;
    const inner = content.current;
    if (element === null || inner === null) return undefined;
    element.scrollTop = element.scrollHeight;
    const observer = new ResizeObserver(() => {
      if (following.current) element.scrollTop = element.scrollHeight;
    });
    observer.observe(inner);
    return () => {
      observer.disconnect();
    };
  }, []);

  return (
    <Box style={{ flex: 1, minHeight: 0, display: 'flex', flexDirection: 'column' }}>
      <div
        ref={scroller}
        className={classes.scroller}
        onScroll={(event) => {
          const element = event.currentTarget;
          const bottom = element.scrollHeight - element.scrollTop - element.clientHeight < BOTTOM_SLACK_PX;
          following.current = bottom;
          setAtBottom(bottom);
        }}
      >
        <div ref={content}>{children}</div>
      </div>
      <Box pos="relative">
        {!atBottom && (
          <ActionIcon
            className={classes.jump}
            radius="xl"
            size="lg"
            variant="default"
            aria-label="Jump to latest"
            onClick={() => {
              const element = scroller.current;
              if (element === null) return;
              following.current = true;
              element.scrollTo({ top: element.scrollHeight, behavior: 'smooth' });
            }}
          >
            <IconArrowDown size={18} />
          </ActionIcon>
        )}
        {footer}
      </Box>
    </Box>
  );
}
