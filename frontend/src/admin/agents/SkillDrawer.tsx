import { Skeleton, Stack, Textarea } from '@mantine/core';
import { useState, type SubmitEvent } from 'react';

import { FormActions } from '../FormActions.js';
import { QueryError } from '../QueryError.js';
import { useSkillMarkdown, type Skill, type Visibility } from './agents-api.js';
import { CatalogDrawer, useSaveCatalogItem, VisibilityField } from './CatalogForm.js';

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
  const [text, setText] = useState(markdown);
  const [visibility, setVisibility] = useState<Visibility>(skill?.visibility ?? 'private');
  const save = useSaveCatalogItem<{ markdown: string; visibility: Visibility }, Skill>({
    collection: '/v1/skills',
    item: skill,
    message: 'Agents with this skill use it from their next turn.',
    onDone,
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
        <VisibilityField value={visibility} onChange={setVisibility} />
        <FormActions error={save.error} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

/** An existing skill's editor, once its Markdown has arrived. */
function LoadedSkillForm({ skill, onDone }: { skill: Skill; onDone: () => void }) {
  const markdown = useSkillMarkdown(skill.id);
  if (markdown.isError) return <QueryError query={markdown} />;
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
  return (
    <CatalogDrawer
      opened={opened}
      onClose={onClose}
      title={skill === undefined ? 'New skill' : `Edit skill ${skill.name}`}
    >
      {opened &&
        (skill === undefined ? (
          <SkillForm key="new" skill={undefined} markdown={SKILL_TEMPLATE} onDone={onClose} />
        ) : (
          <LoadedSkillForm key={skill.id} skill={skill} onDone={onClose} />
        ))}
    </CatalogDrawer>
  );
}
