import { Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';

import { useMe } from '../../auth/me.js';
import { ConfirmModal } from '../inference/ConfirmModal.js';
import { PanelIntro } from '../PanelIntro.js';
import { ActionsHeader, RowActions } from '../RowActions.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { useSkills, type Skill } from './agents-api.js';
import { OwnerName, ToolList, VisibilityBadge } from './CatalogCells.js';
import { useDeleteCatalogItem } from './CatalogForm.js';
import { SkillDrawer } from './SkillDrawer.js';

const COLUMNS = 5;

/** The skills tab: instructions agents load when a message is relevant to them. */
export function SkillsPanel() {
  const skills = useSkills();
  const me = useMe();
  const [drawer, setDrawer] = useState<{ skill: Skill | undefined } | undefined>();
  const remove = useDeleteCatalogItem<Skill>('/v1/skills');

  return (
    <Stack gap="md">
      <PanelIntro
        addLabel="New skill"
        onAdd={() => {
          setDrawer({ skill: undefined });
        }}
      >
        A skill is a page of instructions. An agent with the skill loads it into its prompt only when a
        message is relevant to it (at most three per turn).
      </PanelIntro>
      <QueryTable query={skills} minWidth={680} verticalSpacing="sm" highlightOnHover aria-label="Skills">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Name</Table.Th>
            <Table.Th scope="col">Visibility</Table.Th>
            <Table.Th scope="col">Tools</Table.Th>
            <Table.Th scope="col">Owner</Table.Th>
            <ActionsHeader />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={skills}
            loading={<SkeletonRows columns={COLUMNS} />}
            empty={
              <EmptyRow columns={COLUMNS}>
                No skills yet. Write one in Markdown and attach it to agents.
              </EmptyRow>
            }
          >
            {(skill) => (
              <Table.Tr key={skill.id}>
                <Table.Th scope="row" fw={400} maw={360}>
                  <Text size="sm" fw={600}>
                    {skill.name}
                  </Text>
                  <Text size="xs" c="dimmed" lineClamp={2}>
                    {skill.description}
                  </Text>
                </Table.Th>
                <Table.Td>
                  <VisibilityBadge visibility={skill.visibility} />
                </Table.Td>
                <Table.Td>
                  <ToolList tools={skill.tools} />
                </Table.Td>
                <Table.Td>
                  <OwnerName ownerId={skill.owner_id} builtIn={false} me={me.data?.uid} />
                </Table.Td>
                <RowActions
                  item={`skill ${skill.name}`}
                  onEdit={() => {
                    setDrawer({ skill });
                  }}
                  onDelete={() => {
                    remove.ask(skill);
                  }}
                />
              </Table.Tr>
            )}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
      <SkillDrawer
        opened={drawer !== undefined}
        skill={drawer?.skill}
        onClose={() => {
          setDrawer(undefined);
        }}
      />
      <ConfirmModal
        {...remove.dialog}
        title={`Delete skill ${remove.target?.name ?? ''}?`}
        confirmLabel="Delete"
      >
        <Text size="sm">Agents that list it stop loading it. This cannot be undone.</Text>
      </ConfirmModal>
    </Stack>
  );
}
