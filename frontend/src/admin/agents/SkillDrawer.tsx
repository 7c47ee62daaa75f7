import { Button, Drawer, Group, Radio, Skeleton, Stack, Textarea } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation } from '@tanstack/react-query';
import { useState, type SubmitEvent } from 'react';

import { apiJson } from '../../api/client.js';
import { ErrorAlert } from '../../api/ErrorAlert.js';
import {
  useInvalidateCatalog,
  useSkillMarkdown,
  VISIBILITIES,
  type Skill,
  type Visibility,
} from './agents-api.js';

/** What a new skill starts from: every front matter field the runtime reads, with what each is for. */
const SKILL_TEMPLATE = `---
name: Meeting notes
description: Turns raw meeting notes into decisions, action items and open questions.
when_to_use: The user pastes notes from a meeting or asks for a summary of one.
# tools: [current_time]   # optional: tools it may use, if the agent allows them
---

# Meeting notes

1. List the decisions taken, one line each.
2. List the action items with their owner and due date when the notes name them.
3. End with the questions left open.
`;

function SkillForm({
  skill,
  markdown,
  onDone,
}: {
  skill: Skill | undefined;
  markdown: string;
  onDone: () => void;
}) {
  const invalidate = useInvalidateCatalog();
  const [text, setText] = useState(markdown);
  const [visibility, setVisibility] = useState<Visibility>(skill?.visibility ?? 'private');
  const save = useMutation({
    mutationFn: (body: { markdown: string; visibility: Visibility }) =>
      skill === undefined
        ? apiJson<Skill>('/v1/skills', { method: 'POST', body })
        : apiJson<Skill>(`/v1/skills/${encodeURIComponent(skill.id)}`, { method: 'PATCH', body }),
    onSuccess: (saved) => {
      notifications.show({
        color: 'green',
        title: skill === undefined ? `Created ${saved.name}` : `Saved ${saved.name}`,
        message: 'Agents with this skill use it from their next turn.',
      });
      onDone();
    },
    onSettled: () => invalidate(),
  });

  function submit(event: SubmitEvent) {
    event.preventDefault();
    save.mutate({ markdown: text, visibility });
  }

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        <Textarea
          label="Skill (Markdown)"
          description="YAML front matter between --- lines (name and description required; when_to_use and tools optional), then the instructions."
          value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
          }}
          autosize
          minRows={14}
          maxRows={30}
          spellCheck={false}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          data-autofocus
        />
        <Radio.Group
          label="Visibility"
          value={visibility}
          onChange={(value) => {
            const next = VISIBILITIES.find((option) => option.value === value)?.value;
            if (next !== undefined) setVisibility(next);
          }}
        >
          <Stack gap="xs" mt="xs">
            {VISIBILITIES.map((option) => (
              <Radio
                key={option.value}
                value={option.value}
                label={option.label}
                description={option.explanation}
              />
            ))}
          </Stack>
        </Radio.Group>
        {save.error !== null && <ErrorAlert error={save.error} />}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** An existing skill's editor, once its Markdown has arrived. */
function LoadedSkillForm({ skill, onDone }: { skill: Skill; onDone: () => void }) {
  const markdown = useSkillMarkdown(skill.id);
  if (markdown.isError) return <ErrorAlert error={markdown.error} onRetry={() => void markdown.refetch()} />;
  if (markdown.isPending) {
    return (
      <Stack gap="md" aria-busy>
        <Skeleton height={360} />
        <Skeleton height={120} />
      </Stack>
    );
  }
  return <SkillForm skill={skill} markdown={markdown.data} onDone={onDone} />;
}

/** Creates or edits a skill as Markdown with YAML front matter. */
export function SkillDrawer({
  opened,
  skill,
  onClose,
}: {
  opened: boolean;
  skill: Skill | undefined;
  onClose: () => void;
}) {
  const phone = useMediaQuery('(max-width: 48em)');
  return (
    <Drawer
      opened={opened}
      onClose={onClose}
      position="right"
      size={phone ? '100%' : 'xl'}
      title={skill === undefined ? 'New skill' : `Edit skill ${skill.name}`}
    >
      {opened &&
        (skill === undefined ? (
          <SkillForm key="new" skill={undefined} markdown={SKILL_TEMPLATE} onDone={onClose} />
        ) : (
          <LoadedSkillForm key={skill.id} skill={skill} onDone={onClose} />
        ))}
    </Drawer>
  );
}
