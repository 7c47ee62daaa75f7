import './highlight.css';

import { Box, Group, Text, Typography } from '@mantine/core';
import { memo, type ComponentPropsWithoutRef } from 'react';
import ReactMarkdown, { type Components, type ExtraProps } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';

import classes from './chat.module.css';
import { CopyIconButton } from './CopyIconButton.js';

type HastNode = NonNullable<ExtraProps['node']>;
type HastChild = HastNode['children'][number];

/** The text of a hast subtree (the code as written, without the highlighter's spans). */
function hastText(node: HastNode | HastChild): string {
  if (node.type === 'text') return node.value;
  if (node.type === 'element') return node.children.map(hastText).join('');
  return '';
}

function codeLanguage(node: HastNode | undefined): string | undefined {
  const code = node?.children.find(
    (child): child is HastNode => child.type === 'element' && child.tagName === 'code',
  );
  const classNames = code?.properties['className'];
  const list = Array.isArray(classNames) ? classNames.map(String) : [];
  const language = list.find((name) => name.startsWith('language-'));
  return language?.slice('language-'.length);
}

function CodeBlock({ node, children, ...rest }: ComponentPropsWithoutRef<'pre'> & ExtraProps) {
  const language = codeLanguage(node);
  const code = node === undefined ? '' : hastText(node).replace(/\n$/, '');
  return (
    <Box className={classes.codeBlock}>
      <Group justify="space-between" px="sm" py={2} className={classes.codeHeader}>
        <Text span size="xs" c="dimmed" ff="monospace">
          {language ?? 'text'}
        </Text>
        <CopyIconButton value={code} label="Copy code" />
      </Group>
      <pre {...rest}>{children}</pre>
    </Box>
  );
}

const components: Components = {
  pre: CodeBlock,
  a: ({ node: _node, children, ...rest }) => (
    <a {...rest} target="_blank" rel="noreferrer noopener">
      {children}
    </a>
  ),
  table: ({ node: _node, ...rest }) => (
    <div className={classes.tableScroll}>
      <table {...rest} />
    </div>
  ),
};

const remarkPlugins = [remarkGfm];
const rehypePlugins = [rehypeHighlight];

/**
 * An answer's Markdown: GitHub's dialect, code highlighted by language, links to a new tab. Raw HTML in the
 * text stays text (react-markdown's default), so a model cannot inject markup. Loaded on demand (with the
 * parser and highlight.js it is most of the chat's code): see `LazyMarkdown`.
 */
export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <Typography className={classes.markdown}>
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </Typography>
  );
});
