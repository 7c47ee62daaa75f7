import { ActionIcon, Badge, Button, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { apiJson } from '../../api/client.js';
import { ErrorAlert } from '../../api/ErrorAlert.js';
import { useMe } from '../../auth/me.js';
import { ConfirmModal } from '../inference/ConfirmModal.js';
import { SkeletonRows } from '../inference/SkeletonRows.js';
import { useInvalidateCatalog, useSkills, type Skill } from './agents-api.js';
import { OwnerName, VisibilityBadge } from './CatalogCells.js';
import { SkillDrawer } from './SkillDrawer.js';

const COLUMNS = 5;

/** The skills tab: instructions agents load when a message is relevant to them. */
export function SkillsPanel() {
  const skills = useSkills();
  const me = useMe();
  const invalidate = useInvalidateCatalog();
  const [drawer, setDrawer] = useState<{ skill: Skill | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Skill>();
  const remove = useMutation({
    mutationFn: (skill: Skill) =>
      apiJson<undefined>(`/v1/skills/${encodeURIComponent(skill.id)}`, { method: 'DELETE' }),
    onSuccess: () => {
      setDeleting(undefined);
    },
    onSettled: () => invalidate(),
  });

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" wrap="wrap" gap="sm">
        <Text size="sm" c="dimmed" maw={640}>
          A skill is a page of instructions. An agent with the skill loads it into its prompt only when a
          message is relevant to it (at most three per turn).
        </Text>
        <Button
          leftSection={<IconPlus size={16} />}
          onClick={() => {
            setDrawer({ skill: undefined });
          }}
        >
          New skill
        </Button>
      </Group>
      {skills.isError ? (
        <ErrorAlert error={skills.error} onRetry={() => void skills.refetch()} />
      ) : (
        <Table.ScrollContainer minWidth={680}>
          <Table verticalSpacing="sm" highlightOnHover aria-label="Skills">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Name</Table.Th>
                <Table.Th scope="col">Visibility</Table.Th>
                <Table.Th scope="col">Tools</Table.Th>
                <Table.Th scope="col">Owner</Table.Th>
                <Table.Th scope="col">
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {skills.isPending ? (
                <SkeletonRows columns={COLUMNS} />
              ) : skills.data.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={COLUMNS}>
                    <Text size="sm" c="dimmed" ta="center" py="lg">
                      No skills yet. Write one in Markdown and attach it to agents.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ) : (
                skills.data.map((skill) => (
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
                      {skill.tools.length === 0 ? (
                        <Text size="sm" c="dimmed">
                          None
                        </Text>
                      ) : (
                        <Group gap={4}>
                          {skill.tools.map((tool) => (
                            <Badge key={tool} variant="light" color="gray" tt="none" radius="sm">
                              {tool}
                            </Badge>
                          ))}
                        </Group>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <OwnerName ownerId={skill.owner_id} builtIn={false} me={me.data?.uid} />
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" justify="flex-end">
                        <Tooltip label="Edit">
                          <ActionIcon
                            variant="subtle"
                            aria-label={`Edit skill ${skill.name}`}
                            onClick={() => {
                              setDrawer({ skill });
                            }}
                          >
                            <IconPencil size={18} />
                          </ActionIcon>
                        </Tooltip>
                        <Tooltip label="Delete">
                          <ActionIcon
                            variant="subtle"
                            color="red"
                            aria-label={`Delete skill ${skill.name}`}
                            onClick={() => {
                              setDeleting(skill);
                            }}
                          >
                            <IconTrash size={18} />
                          </ActionIcon>
                        </Tooltip>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <SkillDrawer
        opened={drawer !== undefined}
        skill={drawer?.skill}
        onClose={() => {
          setDrawer(undefined);
        }}
      />
      <ConfirmModal
        opened={deleting !== undefined}
        title={`Delete skill ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        pending={remove.isPending}
        error={remove.error}
        onConfirm={() => {
          if (deleting !== undefined) remove.mutate(deleting);
        }}
        onClose={() => {
          remove.reset();
          setDeleting(undefined);
        }}
      >
        <Text size="sm">Agents that list it stop loading it. This cannot be undone.</Text>
      </ConfirmModal>
    </Stack>
  );
}
